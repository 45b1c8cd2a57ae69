// One AdmissionReview (admission.k8s.io/v1) in, one out. Anything but a pod CREATE is allowed unchanged with a
// warning; a pod too malformed to patch is allowed unchanged with a warning (or refused, when the configuration's
// policy says so, as is a pod that asks for what cannot be given: see `policy` in config.ts); an AdmissionReview that is not one
// (bad JSON, no request.uid) is answered 400 with the reason. Never a throw, never a hang: it is synchronous.
import { type MutateContext, mutatePodEncoded, type PodLike } from './mutate.ts';

/** Most bytes of an AdmissionReview we read (the API server's own request limit is 3 MiB). */
export const MAX_REVIEW_BYTES = 4 << 20;

export type Result = 'mutated' | 'unchanged' | 'skipped' | 'error' | 'invalid' | 'denied';

export interface ReviewAnswer {
  status: number;
  body: string;
  result: Result;
  /** What was done, for the log line (never pod content). */
  info: { uid?: string; namespace?: string; name?: string; bundle?: string; identitySecret?: string; reason?: string };
}

interface AdmissionRequest {
  uid?: unknown;
  kind?: { group?: unknown; version?: unknown; kind?: unknown };
  operation?: unknown;
  namespace?: unknown;
  name?: unknown;
  object?: unknown;
}

const answer = (uid: string, response: Record<string, unknown>): string =>
  JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true, ...response } });
/**
 * `answer(uid, { patchType: 'JSONPatch', patch, warnings? })`, the same bytes, written out: the patch (base64, no
 * character JSON escapes) is copied in once, not serialised again.
 */
const patched = (uid: string, patchBase64: string, warnings: string[]): string =>
  `{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":${JSON.stringify(uid)},"allowed":true,"patchType":"JSONPatch","patch":"${patchBase64}"${warnings.length ? `,"warnings":${JSON.stringify(warnings)}` : ''}}}`;
/** A refusal: the API server fails the create with 403 and `admission webhook "…" denied the request: <message>`. */
const refusal = (uid: string, message: string): string =>
  answer(uid, { allowed: false, status: { code: 403, reason: 'Forbidden', message } });

export type ReviewContext = Omit<MutateContext, 'namespace' | 'namespaceLabels'> & {
  /** The labels of a namespace (from a cache); undefined when unknown. */
  labelsOf: (namespace: string) => Record<string, string> | undefined;
};

export function review(body: string | Buffer, ctx: ReviewContext): ReviewAnswer {
  let parsed: { apiVersion?: unknown; kind?: unknown; request?: AdmissionRequest };
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch (e) {
    return { status: 400, body: `not JSON: ${(e as Error).message}`, result: 'invalid', info: { reason: 'not JSON' } };
  }
  if (typeof parsed !== 'object' || parsed === null || parsed.kind !== 'AdmissionReview' || parsed.apiVersion !== 'admission.k8s.io/v1')
    return {
      status: 400,
      body: 'expected an admission.k8s.io/v1 AdmissionReview',
      result: 'invalid',
      info: { reason: 'not an AdmissionReview' },
    };
  const req = parsed.request;
  if (typeof req !== 'object' || req === null || typeof req.uid !== 'string' || req.uid === '')
    return { status: 400, body: 'AdmissionReview without request.uid', result: 'invalid', info: { reason: 'no request.uid' } };
  const uid = req.uid;
  const k = req.kind;
  const namespace = typeof req.namespace === 'string' ? req.namespace : '';
  const name = typeof req.name === 'string' ? req.name : undefined;
  const info = { uid, namespace, ...(name ? { name } : {}) };
  if (k?.group !== '' || k?.version !== 'v1' || k?.kind !== 'Pod' || req.operation !== 'CREATE') {
    const what = `${typeof k?.kind === 'string' ? k.kind : '?'} ${typeof req.operation === 'string' ? req.operation : '?'}`.slice(0, 80);
    return {
      status: 200,
      body: answer(uid, { warnings: [`anchorage: webhook handles pod CREATE only, not ${what}: allowed unchanged`] }),
      result: 'skipped',
      info: { ...info, reason: `not a pod create: ${what}` },
    };
  }
  const pod = req.object as PodLike;
  const malformedDenied = ctx.config.policy.malformedPod === 'deny';
  if (typeof pod !== 'object' || pod === null || Array.isArray(pod))
    return {
      status: 200,
      body: malformedDenied
        ? refusal(uid, 'anchorage: pod refused: the request has no pod object (policy.malformedPod: deny)')
        : answer(uid, { warnings: ['anchorage: the request has no pod object: allowed unchanged'] }),
      result: malformedDenied ? 'denied' : 'error',
      info: { ...info, reason: 'no object' },
    };
  try {
    const labels = ctx.labelsOf(namespace);
    const m = mutatePodEncoded(pod, {
      config: ctx.config,
      excluded: ctx.excluded,
      issuerReady: ctx.issuerReady,
      namespace,
      ...(labels && { namespaceLabels: labels }),
    });
    const out = {
      ...info,
      ...(m.bundle !== undefined && { bundle: m.bundle }),
      ...(m.identitySecret !== undefined && { identitySecret: m.identitySecret }),
      ...(m.skipped !== undefined && { reason: m.skipped }),
    };
    if (m.denied !== undefined)
      return { status: 200, body: refusal(uid, m.denied), result: 'denied', info: { ...out, reason: m.denied.slice(0, 300) } };
    if (!m.patchBase64)
      return {
        status: 200,
        body: answer(uid, m.warnings.length ? { warnings: m.warnings } : {}),
        result: m.skipped ? 'skipped' : 'unchanged',
        info: out,
      };
    return {
      status: 200,
      body: patched(uid, m.patchBase64, m.warnings),
      result: 'mutated',
      info: out,
    };
  } catch (e) {
    const reason = `malformed pod: ${(e as Error).message}`.slice(0, 160);
    if (malformedDenied)
      return {
        status: 200,
        body: refusal(uid, `anchorage: pod refused: ${reason} (policy.malformedPod: deny)`),
        result: 'denied',
        info: { ...info, reason },
      };
    return {
      status: 200,
      body: answer(uid, { warnings: [`anchorage: ${reason}: allowed unchanged`] }),
      result: 'error',
      info: { ...info, reason },
    };
  }
}
