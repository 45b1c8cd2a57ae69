// The bound on one SFTP request: an sftp-server that never answers (a stuck disk on the node) fails that
// operation with a line naming it, instead of hanging the push. The SFTP client here is a stand-in whose
// requests never call back; the real protocol paths are covered against OpenSSH in test/nodes*.test.ts.
import type { SFTPWrapper } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { Remote } from './remote.ts';

const silent = new Proxy({}, { get: () => () => undefined }) as unknown as SFTPWrapper;

describe('Remote', () => {
  it('an SFTP request with no answer fails with the operation and the path', async () => {
    const r = new Remote(silent, { opMs: 50 });
    await expect(r.stat('/etc/kubernetes/pki/ca.crt')).rejects.toThrow(
      'stat /etc/kubernetes/pki/ca.crt: no answer from the node within 0.05 s',
    );
    await expect(r.list('/etc/kubernetes/pki')).rejects.toThrow('list /etc/kubernetes/pki: no answer from the node within 0.05 s');
  });
});
