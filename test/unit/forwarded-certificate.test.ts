/** The client certificate header a TLS-terminating proxy forwards, in every form proxies write it. */
import { X509Certificate } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ForwardedCertificateError, parseForwardedCertificate } from '../../src/est/forwarded-certificate.js';
import { makeDeviceCa } from '../helpers/device-ca.js';

const H = 'x-ssl-client-cert';
let leafPem: string;
let caPem: string;
let leafDer: Buffer;
let caDer: Buffer;

beforeAll(async () => {
  const ca = await makeDeviceCa();
  const leaf = await ca.issue('forwarded-device');
  leafPem = leaf.cert;
  caPem = ca.pem;
  leafDer = Buffer.from(new X509Certificate(leafPem).raw);
  caDer = Buffer.from(new X509Certificate(caPem).raw);
});

const refused = (value: string | string[]): string => {
  try {
    parseForwardedCertificate(value, H);
  } catch (err) {
    expect(err).toBeInstanceOf(ForwardedCertificateError);
    return (err as Error).message;
  }
  throw new Error('expected a ForwardedCertificateError');
};

describe('parseForwardedCertificate', () => {
  it('reads no certificate from an absent or empty header', () => {
    expect(parseForwardedCertificate(undefined, H)).toEqual([]);
    expect(parseForwardedCertificate('', H)).toEqual([]);
    expect(parseForwardedCertificate('  ', H)).toEqual([]);
    expect(parseForwardedCertificate([''], H)).toEqual([]);
  });

  it('reads bare base64 DER (HAProxy %[ssl_c_der,base64])', () => {
    expect(parseForwardedCertificate(leafDer.toString('base64'), H)).toEqual([leafDer]);
  });

  it('reads URL-encoded PEM (nginx $ssl_client_escaped_cert)', () => {
    expect(parseForwardedCertificate(encodeURIComponent(leafPem), H)).toEqual([leafDer]);
    // nginx leaves "/" and "=" alone in some versions; partly encoded is still read
    expect(parseForwardedCertificate(leafPem.replace(/\n/g, '%0A').replace(/ /g, '%20').replace(/\+/g, '%2B'), H)).toEqual([leafDer]);
  });

  it('reads PEM whose line breaks became spaces or tabs', () => {
    expect(parseForwardedCertificate(leafPem.replace(/\n/g, ' '), H)).toEqual([leafDer]);
    expect(parseForwardedCertificate(leafPem.replace(/\n/g, '\t'), H)).toEqual([leafDer]);
    // nginx's older $ssl_client_cert: a tab at the start of every line but the first
    expect(parseForwardedCertificate(leafPem.trim().replace(/\n/g, '\n\t'), H)).toEqual([leafDer]);
  });

  it('reads several PEM blocks as a chain, leaf first', () => {
    expect(parseForwardedCertificate(encodeURIComponent(leafPem + caPem), H)).toEqual([leafDer, caDer]);
  });

  it('refuses what is not a certificate, naming the header', () => {
    expect(refused('not base64 at all!')).toMatch(/^x-ssl-client-cert: expected a PEM certificate or base64 DER/);
    expect(refused(Buffer.from('hello world, not DER').toString('base64'))).toMatch(/^x-ssl-client-cert: the value is not an X\.509 certificate/);
    expect(refused(leafDer.subarray(0, 100).toString('base64'))).toMatch(/not an X\.509 certificate/);
    expect(refused('%E0%A4%A')).toMatch(/not valid URL encoding/);
    expect(refused('-----BEGIN CERTIFICATE----- MIIB')).toMatch(/without a complete CERTIFICATE block/);
    expect(refused(encodeURIComponent(leafPem.replace('-----END CERTIFICATE-----', '')))).toMatch(/without a complete CERTIFICATE block/);
    expect(refused([leafDer.toString('base64'), leafDer.toString('base64')])).toMatch(/appears more than once/);
  });
});
