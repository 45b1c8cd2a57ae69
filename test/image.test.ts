// The container image, built and run here without a daemon or a registry: `npm run image` with the scratch
// builder (buildah FROM scratch, scripts/image-rootfs.sh) writes an OCI image layout, cached under
// ${ANCHORAGE_CACHE:-~/.cache/anchorage}/image-<key12> (key: every input of the build); its one layer is
// unpacked and run with runc (test/deps.sh installs buildah and runc) as Kubernetes would under the chart's
// securityContext: the image's user, a read-only root, /tmp a tmpfs, no capabilities, the host's network (so
// only loopback is used). The layer itself is scanned: production dependencies only (the same as the SBOM's),
// no test files, no TypeScript sources, no private key, nothing owned by or writable for the runtime user.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { freePort, waitFor } from './cluster/harness.ts';
import { openssl, opensslCa, opensslIssue } from './support/openssl.ts';

const ROOT = join(import.meta.dirname, '..');
const CACHE = process.env.ANCHORAGE_CACHE ?? join(homedir(), '.cache', 'anchorage');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version: string; dev?: boolean }>;
};
const dir = mkdtempSync(join(tmpdir(), 'image20-anchorage-'));
const rootfs = join(dir, 'rootfs');
const certs = join(dir, 'certs');
const state = join(dir, 'runc');
const ids: string[] = [];
const procs: ChildProcess[] = [];

interface ImageConfig {
  architecture: string;
  os: string;
  config: { User: string; Env: string[]; Entrypoint: string[]; Cmd: string[]; WorkingDir: string; Labels: Record<string, string> };
  rootfs: { diff_ids: string[] };
}
let layout = '';
let manifest: { layers: { digest: string; mediaType: string }[]; config: { digest: string } };
let config: ImageConfig;
let refName = '';
let listing: { mode: string; owner: string; path: string }[] = [];
let spec: Record<string, unknown>;

function run(cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; timeout?: number; cwd?: string } = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: o.timeout ?? 300_000, cwd: o.cwd ?? dir, env: o.env, maxBuffer: 256 << 20 });
  return { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? String(r.error) : ''}` };
}
function must(r: { code: number; stdout: string; stderr: string }, what: string): string {
  if (r.code !== 0) throw new Error(`${what} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}
const blob = (digest: string): string => join(layout, 'blobs', ...digest.split(':'));

/** Every file under `d` (relative paths), skipping the named subtrees. */
function walk(d: string, skip: (rel: string) => boolean = () => false, base = d): string[] {
  const out: string[] = [];
  for (const e of readdirSync(d, { withFileTypes: true })) {
    const p = join(d, e.name);
    const rel = relative(base, p);
    if (skip(rel)) continue;
    if (e.isDirectory()) out.push(...walk(p, skip, base));
    else out.push(rel);
  }
  return out.sort();
}

/** The cache key: every input of the scratch build (sources npm pack reads, the lockfile, the scripts, Node, the host's libraries). */
function buildKey(): string {
  const h = createHash('sha256');
  const files = [
    'package.json',
    'package-lock.json',
    'tsconfig.json',
    'tsconfig.build.json',
    'LICENSE',
    'README.md',
    'scripts/image.sh',
    'scripts/image-rootfs.sh',
    'scripts/image-prune.sh',
    'scripts/sbom.sh',
  ];
  for (const d of ['bin', 'src', 'web', 'deploy', 'docs'])
    files.push(
      ...walk(join(ROOT, d), (rel) => rel === 'dist' || rel === 'node_modules' || rel.endsWith('.test.ts')).map((f) => join(d, f)),
    );
  for (const f of files)
    h.update(`${f}\0`)
      .update(readFileSync(join(ROOT, f)))
      .update('\0');
  h.update(must(run(join(ROOT, 'node_modules', 'node', 'bin', 'node'), ['--version']), 'node --version'));
  h.update(must(run('dpkg-query', ['-W', 'libc6', 'libstdc++6', 'libgcc-s1', 'ca-certificates', 'buildah']), 'dpkg-query'));
  return h.digest('hex').slice(0, 12);
}

/** The image's OCI layout: from the cache, else built once by `npm run image` (scratch builder) and cached. */
function image(): string {
  const key = buildKey();
  const done = join(CACHE, `image-${key}`, 'DONE');
  if (existsSync(done)) return join(CACHE, `image-${key}`, 'oci');
  mkdirSync(CACHE, { recursive: true });
  const tmp = mkdtempSync(join(CACHE, `image-${key}.tmp-`));
  const r = run('bash', [join(ROOT, 'scripts', 'image.sh')], {
    env: { ...process.env, ANCHORAGE_IMAGE_BUILDER: 'scratch', ANCHORAGE_IMAGE_OCI: join(tmp, 'oci') },
    timeout: 1_500_000,
    cwd: ROOT,
  });
  if (r.code !== 0) {
    rmSync(tmp, { recursive: true, force: true });
    throw new Error(`npm run image exited ${r.code}: ${r.stderr}`);
  }
  writeFileSync(join(tmp, 'DONE'), `${new Date().toISOString()}\n`);
  const final = join(CACHE, `image-${key}`);
  rmSync(final, { recursive: true, force: true });
  renameSync(tmp, final);
  // Older builds go (a day old: a concurrent run on another checkout may still be unpacking its own).
  for (const e of readdirSync(CACHE))
    if (e.startsWith('image-') && e !== `image-${key}`) {
      const p = join(CACHE, e);
      if (Date.now() - statSync(p).mtimeMs > 86_400_000) rmSync(p, { recursive: true, force: true });
    }
  return join(final, 'oci');
}

let seq = 0;
/** A runc bundle for the image: its user, env, working directory; read-only root, /tmp a tmpfs, no capabilities. */
function bundle(args: string[], binds: { src: string; dst: string }[] = []): { id: string; dir: string } {
  const id = `image20-${process.pid}-${++seq}`;
  const b = join(dir, 'bundles', id);
  mkdirSync(b, { recursive: true });
  const [uid, gid] = config.config.User.split(':').map(Number);
  // biome-ignore lint/suspicious/noExplicitAny: runc's generated spec, adjusted
  const s = structuredClone(spec) as any;
  s.root = { path: rootfs, readonly: true };
  s.hostname = 'anchorage';
  s.process.terminal = false;
  s.process.user = { uid, gid };
  s.process.args = args;
  s.process.env = config.config.Env;
  s.process.cwd = config.config.WorkingDir;
  s.process.noNewPrivileges = true;
  s.process.capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
  s.mounts.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777', 'size=64m'] });
  for (const m of binds) s.mounts.push({ destination: m.dst, type: 'bind', source: m.src, options: ['rbind', 'ro', 'nosuid', 'nodev'] });
  // The host's network namespace: the container's listener is on the host's loopback.
  s.linux.namespaces = s.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
  writeFileSync(join(b, 'config.json'), JSON.stringify(s, null, 2));
  ids.push(id);
  return { id, dir: b };
}
const entry = (...args: string[]): string[] => [...config.config.Entrypoint, ...args];
function runImage(args: string[], binds: { src: string; dst: string }[] = []) {
  const b = bundle(args, binds);
  const r = run('runc', ['--root', state, 'run', '--bundle', b.dir, b.id], { timeout: 300_000 });
  run('runc', ['--root', state, 'delete', '--force', b.id]);
  return r;
}

beforeAll(() => {
  if (process.getuid?.() !== 0) throw new Error('test/image.test.ts runs containers with runc: it needs root');
  layout = image();
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8')) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  expect(index.manifests).toHaveLength(1);
  refName = index.manifests[0]?.annotations?.['org.opencontainers.image.ref.name'] ?? '';
  manifest = JSON.parse(readFileSync(blob(index.manifests[0]?.digest ?? ''), 'utf8'));
  config = JSON.parse(readFileSync(blob(manifest.config.digest), 'utf8'));
  mkdirSync(rootfs);
  for (const l of manifest.layers)
    must(run('tar', ['-xzf', blob(l.digest), '-C', rootfs, '--numeric-owner', '--same-owner']), 'unpack layer');
  listing = manifest.layers.flatMap((l) =>
    must(run('tar', ['-tvzf', blob(l.digest), '--numeric-owner']), 'list layer')
      .trimEnd()
      .split('\n')
      .map((line) => {
        const m = /^(\S+) (\d+)\/(\d+)\s+\d+ \S+ \S+ (.+?)(?: -> .*)?$/.exec(line);
        if (!m) throw new Error(`tar listing: ${line}`);
        return { mode: m[1] ?? '', owner: `${m[2]}:${m[3]}`, path: (m[4] ?? '').replace(/^\.\//, '').replace(/\/$/, '') };
      }),
  );
  mkdirSync(state);
  spec = JSON.parse(
    readFileSync(join(must(run('bash', ['-c', `cd '${dir}' && runc spec && echo "$PWD"`]), 'runc spec').trim(), 'config.json'), 'utf8'),
  );
  unlinkSync(join(dir, 'config.json'));
  // A certificate folder the container reads through a read-only bind mount: certificates only, no keys.
  mkdirSync(certs);
  opensslCa(certs, 'ca', '/CN=image20 test CA');
  opensslIssue(certs, 'ca', 'web', '/CN=web.image20.test', 'subjectAltName=DNS:web.image20.test\nextendedKeyUsage=serverAuth\n');
  for (const f of readdirSync(certs)) if (!f.endsWith('.crt')) unlinkSync(join(certs, f));
  chmodSync(dir, 0o755);
  chmodSync(certs, 0o755);
  for (const f of readdirSync(certs)) chmodSync(join(certs, f), 0o644);
});

afterAll(() => {
  for (const p of procs) p.kill('SIGKILL');
  for (const id of ids) run('runc', ['--root', state, 'delete', '--force', id]);
  rmSync(dir, { recursive: true, force: true });
});

const fingerprint = (f: string): string =>
  openssl(certs, 'x509', '-in', f, '-noout', '-fingerprint', '-sha256').trim().replace(/^.*=/, '').replaceAll(':', '').toLowerCase();

describe('the image built without a daemon or a registry', () => {
  it('is one layer FROM scratch whose config is the Dockerfile’s last stage: user, entrypoint, env, working directory, labels', () => {
    expect(manifest.layers).toHaveLength(1);
    expect(config.os).toBe('linux');
    expect(config.rootfs.diff_ids).toHaveLength(1);
    const df = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
    const last = df.slice(df.lastIndexOf('\nFROM '));
    expect(config.config.User).toBe(/^USER (\S+)$/m.exec(last)?.[1]);
    expect(config.config.User).toBe('65532:65532');
    expect(config.config.WorkingDir).toBe(/^WORKDIR (\S+)$/m.exec(last)?.[1]);
    expect(config.config.Entrypoint).toEqual(JSON.parse(/^ENTRYPOINT (.+)$/m.exec(last)?.[1] ?? 'null'));
    expect(config.config.Cmd).toEqual(JSON.parse(/^CMD (.+)$/m.exec(last)?.[1] ?? 'null'));
    for (const kv of (/^ENV (.+)$/m.exec(last)?.[1] ?? '').split(' ')) expect(config.config.Env).toContain(kv);
    for (const m of (/^LABEL (.+)$/m.exec(last)?.[1] ?? '').matchAll(/([\w.]+)="([^"]*)"/g))
      expect(config.config.Labels[m[1] ?? '']).toBe(m[2]);
    // The chart runs this image: its tag is the package's version and the chart's appVersion.
    const chart = parse(readFileSync(join(ROOT, 'deploy', 'helm', 'anchorage', 'Chart.yaml'), 'utf8')) as { appVersion: string };
    const values = parse(readFileSync(join(ROOT, 'deploy', 'helm', 'anchorage', 'values.yaml'), 'utf8')) as {
      image: { repository: string; tag: string };
    };
    expect(refName).toBe(pkg.version);
    expect(chart.appVersion).toBe(pkg.version);
    expect(values.image.tag).toBe('');
    expect(values.image.repository.split('/').at(-1)).toBe('anchorage');
    expect(config.config.Labels['org.opencontainers.image.version']).toBe(pkg.version);
  });

  it('anchorage --version prints the package’s version', () => {
    const r = runImage(entry('--version'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('runs as 65532:65532 on a read-only root: only /tmp is writable', () => {
    const script = [
      "const fs = require('node:fs');",
      'const tryWrite = (p) => { try { fs.writeFileSync(p, "x"); return "written"; } catch (e) { return e.code; } };',
      "console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), groups: process.getgroups(), user: require('node:os').userInfo().username,",
      "  opt: tryWrite('/opt/anchorage/x'), etc: tryWrite('/etc/x'), home: tryWrite('/home/nonroot/x'), tmp: tryWrite('/tmp/x'), node: process.version }));",
    ].join('\n');
    const r = runImage(['node', '-e', script]);
    expect(r.code, r.stderr).toBe(0);
    const o = JSON.parse(r.stdout);
    expect(o).toMatchObject({ uid: 65532, gid: 65532, user: 'nonroot', opt: 'EROFS', etc: 'EROFS', home: 'EROFS', tmp: 'written' });
    expect(o.node).toMatch(/^v24\./);
    expect(config.config.Labels['dev.anchorage.node']).toBe(o.node);
  });

  it('inspect and lint read a mounted certificate folder (fingerprints as openssl computes them)', () => {
    const binds = [{ src: certs, dst: '/certs' }];
    const ins = runImage(entry('inspect', '/certs', '-o', 'json'), binds);
    expect(ins.code, ins.stderr).toBe(0);
    const report = JSON.parse(ins.stdout) as {
      sources: { source: string; objects: { subject: string; fingerprints: { sha256: string } }[] }[];
    };
    const got = report.sources.flatMap((s) => s.objects.map((o) => `${s.source} ${o.subject} ${o.fingerprints.sha256}`)).sort();
    expect(got).toEqual(
      [`/certs/ca.crt CN=image20 test CA ${fingerprint('ca.crt')}`, `/certs/web.crt CN=web.image20.test ${fingerprint('web.crt')}`].sort(),
    );
    const lint = runImage(entry('lint', '/certs', '-o', 'json'), binds);
    expect(lint.code, lint.stderr + lint.stdout).toBe(0);
    const lr = JSON.parse(lint.stdout) as { certificates: number; summary: { error: number } };
    expect(lr.certificates).toBe(2);
    expect(lr.summary.error).toBe(0);
  });

  it('serve --dir on a mounted folder answers /healthz and lists its certificates, on loopback', async () => {
    const port = await freePort();
    const b = bundle(entry('serve', '--dir', '/certs', '--no-history', '--listen', `127.0.0.1:${port}`), [{ src: certs, dst: '/certs' }]);
    let log = '';
    const p = spawn('runc', ['--root', state, 'run', '--bundle', b.dir, b.id], { stdio: ['ignore', 'pipe', 'pipe'] });
    procs.push(p);
    p.stdout.on('data', (d: Buffer) => (log += d));
    p.stderr.on('data', (d: Buffer) => (log += d));
    let exited = false;
    p.on('exit', () => (exited = true));
    try {
      const get = async (path: string) => {
        const r = await fetch(`http://127.0.0.1:${port}${path}`);
        return { status: r.status, body: await r.text() };
      };
      await waitFor(
        'serve in the container answers /readyz',
        async () => {
          if (exited) throw new Error(`serve exited: ${log}`);
          return (await get('/readyz').catch(() => ({ status: 0 }))).status === 200;
        },
        240_000,
      );
      const h = await get('/healthz');
      expect(h.status).toBe(200);
      expect(JSON.parse(h.body)).toEqual({ ok: true });
      const certsSeen = JSON.parse((await get('/api/v1/certificates')).body) as { items: { sha256: string; subject: string }[] };
      expect(certsSeen.items.map((c) => `${c.subject} ${c.sha256}`).sort()).toEqual(
        [`CN=image20 test CA ${fingerprint('ca.crt')}`, `CN=web.image20.test ${fingerprint('web.crt')}`].sort(),
      );
    } finally {
      run('runc', ['--root', state, 'kill', b.id, 'KILL']);
      await waitFor('the container exits', () => exited, 60_000).catch(() => undefined);
      run('runc', ['--root', state, 'delete', '--force', b.id]);
    }
  });

  it('holds exactly the production dependencies: its node_modules are the lockfile’s non-dev entries, its SBOM and npm run sbom list the same', () => {
    const app = join(rootfs, 'opt', 'anchorage');
    // Every installed package: a package.json directly under node_modules/<name> or node_modules/@scope/<name>.
    const installed = new Map<string, string>();
    const scan = (nm: string, prefix: string) => {
      if (!existsSync(nm)) return;
      for (const e of readdirSync(nm)) {
        if (e.startsWith('.')) continue;
        const names = e.startsWith('@') ? readdirSync(join(nm, e)).map((n) => `${e}/${n}`) : [e];
        for (const n of names) {
          const key = `${prefix}node_modules/${n}`;
          const pj = join(nm, n, 'package.json');
          if (!existsSync(pj)) continue;
          installed.set(key, (JSON.parse(readFileSync(pj, 'utf8')) as { version: string }).version);
          scan(join(nm, n, 'node_modules'), `${key}/`);
        }
      }
    };
    scan(join(app, 'node_modules'), '');
    const prod = Object.entries(lock.packages).filter(([k, v]) => k !== '' && !v.dev);
    expect([...installed].map(([k, v]) => `${k}@${v}`).sort()).toEqual(prod.map(([k, v]) => `${k}@${v.version}`).sort());
    for (const d of Object.keys(pkg.devDependencies).filter((d) => !pkg.dependencies[d] && lock.packages[`node_modules/${d}`]?.dev))
      expect(existsSync(join(app, 'node_modules', d)), `devDependency ${d} in the image`).toBe(false);
    for (const d of Object.keys(pkg.dependencies)) expect(installed.has(`node_modules/${d}`), d).toBe(true);
    const nameAt = (k: string, v: string) => `${k.slice(k.lastIndexOf('node_modules/') + 'node_modules/'.length)}@${v}`;
    const inImage = [...new Set([...installed].map(([k, v]) => nameAt(k, v)))].sort();
    type Sbom = { components: { name: string; version: string }[] };
    const sbomIn = JSON.parse(readFileSync(join(app, 'sbom.cdx.json'), 'utf8')) as Sbom;
    expect(sbomIn.components.map((c) => `${c.name}@${c.version}`).sort()).toEqual(inImage);
    must(run('npm', ['run', '--silent', 'sbom', '--', join(dir, 'sbom.cdx.json')], { cwd: ROOT }), 'npm run sbom');
    const sbom = JSON.parse(readFileSync(join(dir, 'sbom.cdx.json'), 'utf8')) as Sbom;
    expect(sbom.components.map((c) => `${c.name}@${c.version}`).sort()).toEqual(inImage);
  });

  it('holds the compiled package only: no sources, tests, TypeScript or build tooling; no shell, no npm', () => {
    const app = join(rootfs, 'opt', 'anchorage');
    expect(readdirSync(app).sort()).toEqual([
      'LICENSE',
      'README.md',
      'bin',
      'deploy',
      'dist',
      'docs',
      'node_modules',
      'package.json',
      'sbom.cdx.json',
      'web',
    ]);
    const own = walk(app, (rel) => rel === 'node_modules');
    expect(own.filter((f) => /\.(ts|tsx|mts|cts)$/.test(f))).toEqual([]);
    expect(own.filter((f) => /(^|\/)(test|tests|__tests__)(\/|$)|\.(test|spec)\.[cm]?[jt]sx?$/.test(f))).toEqual([]);
    expect(own.filter((f) => /(^|\/)(tsconfig[^/]*\.json|vite\.config\.[jt]s|biome\.json|\.dependency-cruiser\.[cm]?js)$/.test(f))).toEqual(
      [],
    );
    expect(existsSync(join(app, 'dist', 'cli', 'main.js'))).toBe(true);
    expect(existsSync(join(app, 'web', 'dist', 'index.html'))).toBe(true);
    expect(existsSync(join(app, 'src'))).toBe(false);
    expect(existsSync(join(app, 'web', 'src'))).toBe(false);
    // Distroless: the top of the tree, no shell, no package manager, Node alone in /usr/local/bin.
    const top = [...new Set(listing.map((e) => e.path.split('/')[0]).filter((p) => p !== '' && p !== '.'))].sort();
    expect(top).toEqual(['dev', 'etc', 'home', 'lib', 'lib64', 'opt', 'proc', 'root', 'sys', 'tmp', 'usr', 'var']);
    // Nor the dependencies' own tests and examples (scripts/image-prune.sh).
    const deps = walk(join(app, 'node_modules'));
    expect(deps.filter((f) => /(^|\/)(test|tests|__tests__)\/|\.(test|spec)\.[cm]?[jt]sx?$/.test(f))).toEqual([]);
    expect(deps.filter((f) => /(^|\/)node_modules\/(@[^/]+\/)?[^/@][^/]*\/(examples?|specs?)\//.test(`node_modules/${f}`))).toEqual([]);
    for (const p of ['bin/sh', 'usr/bin/sh', 'bin/bash', 'usr/bin/apt', 'usr/bin/dpkg']) expect(existsSync(join(rootfs, p)), p).toBe(false);
    expect(readdirSync(join(rootfs, 'usr', 'local', 'bin'))).toEqual(['node']);
    // Debian's public roots (the bundles controller's default set) with the dpkg record it reports.
    expect(readdirSync(join(rootfs, 'usr', 'share', 'ca-certificates', 'mozilla')).length).toBeGreaterThan(100);
    expect(readFileSync(join(rootfs, 'var', 'lib', 'dpkg', 'status'), 'utf8')).toMatch(/^Package: ca-certificates\n/m);
  });

  it('the layer: every file owned by root and not writable by the runtime user, no set-id bit, no private key', () => {
    expect(listing.length).toBeGreaterThan(1000);
    const notRoot = listing.filter((e) => e.owner !== '0:0' && e.path !== 'home/nonroot');
    expect(notRoot).toEqual([]);
    expect(listing.filter((e) => /[sS]/.test(e.mode.slice(1, 7)))).toEqual([]);
    const worldWritable = listing.filter((e) => e.mode[8] === 'w' && !e.mode.startsWith('l') && e.path !== 'tmp');
    expect(worldWritable).toEqual([]);
    expect(listing.find((e) => e.path === 'tmp')?.mode).toBe('drwxrwxrwt');
    // No private key anywhere: a PEM block (PKCS#1, #8, SEC1, encrypted, OpenSSH) whose header is followed by its
    // base64 body (also inside a string literal, \\n-separated), or a PuTTY key file; a parser's bare header is none.
    const key =
      /-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY)-----(?:\s|\\r|\\n)+(?:[\w-]+: [^\n\\]*(?:\s|\\r|\\n)+)*[A-Za-z0-9+/]{40,}|PuTTY-User-Key-File-\d+: [\w@.-]+\r?\nEncryption: /;
    const hits: string[] = [];
    let scanned = 0;
    for (const f of walk(rootfs)) {
      const p = join(rootfs, f);
      if (!lstatSync(p).isFile()) continue;
      scanned++;
      const b = readFileSync(p);
      if (b.includes('PRIVATE KEY-----') || b.includes('PuTTY-User-Key-File-')) if (key.test(b.toString('latin1'))) hits.push(f);
    }
    expect(scanned).toBe(listing.filter((e) => e.mode.startsWith('-')).length);
    expect(hits).toEqual([]);
  });
});
