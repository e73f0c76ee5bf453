/** Tests that need a certificate from a local CA without an enrollment: the RA's template, signed as is. */
import type { CaBackend, IssuanceTemplate, IssuedCertificate } from '../../src/ca/ca-backend.js';

export async function issueTemplate(ca: CaBackend, template: IssuanceTemplate): Promise<IssuedCertificate> {
  // The local CA signs the template; the CSR is the RA's business, so none is needed here.
  const result = await ca.issue({ operation: 'enroll', csr: Buffer.alloc(0), template, requestId: 'test', requester: 'test' });
  if (result.status !== 'issued') throw new Error(`CA ${ca.id} answered ${result.status}`);
  return result.certificate;
}
