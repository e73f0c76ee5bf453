/**
 * A CA connector for tests of the RA's handling of connector outcomes: a real CaBackend that answers
 * each issue() from a script (pending, a typed error, or a real issuance by the CA it fronts),
 * and remembers every request it was given.
 */
import {
  CaMisconfiguredError, CaRefusedError, CaUnavailableError, type CaBackend, type IssueRequest, type IssueResult,
} from '../../src/ca/ca-backend.js';

export type ScriptedAnswer =
  | { kind: 'pending'; retryAfterSeconds: number; reference: string }
  | { kind: 'refused'; reason: string; status?: 400 | 403 }
  | { kind: 'misconfigured'; reason: string }
  | { kind: 'unavailable'; reason: string; retryAfterSeconds?: number }
  | { kind: 'issue' };

export interface ScriptedCa extends CaBackend {
  /** Answers for the next issue() calls, in order; when empty, the fronted CA issues. */
  script: ScriptedAnswer[];
  requests: IssueRequest[];
}

export function createScriptedCa(issuer: CaBackend): ScriptedCa {
  const ca: ScriptedCa = {
    id: issuer.id,
    script: [],
    requests: [],
    chain: () => issuer.chain(),
    issued: (der) => issuer.issued(der),
    async issue(request: IssueRequest): Promise<IssueResult> {
      ca.requests.push(request);
      const answer = ca.script.shift() ?? { kind: 'issue' };
      switch (answer.kind) {
        case 'pending':
          return { status: 'pending', retryAfterSeconds: answer.retryAfterSeconds, reference: answer.reference };
        case 'refused':
          throw new CaRefusedError(answer.reason, answer.status ? { status: answer.status } : {});
        case 'misconfigured':
          throw new CaMisconfiguredError(answer.reason);
        case 'unavailable':
          throw new CaUnavailableError(answer.reason, answer.retryAfterSeconds !== undefined ? { retryAfterSeconds: answer.retryAfterSeconds } : {});
        case 'issue':
          return issuer.issue(request);
      }
    },
  };
  return ca;
}
