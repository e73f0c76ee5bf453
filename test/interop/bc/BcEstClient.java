/*
 * Independent EST (RFC 7030 / RFC 8951) interop client built on Bouncy Castle's
 * org.bouncycastle.est package (tested against Debian's BC 1.72). Used by the
 * interop tests as a client implementation we did not write.
 *
 * Single file, default package. Compile and run with:
 *   javac -cp bcprov.jar:bcpkix.jar:bcutil.jar -d OUT BcEstClient.java
 *   java  -cp OUT:bcprov.jar:bcpkix.jar:bcutil.jar BcEstClient COMMAND [--name value ...]
 *
 * Exit codes: 0 ok, 2 failure (exception class/message on stderr; for ESTException
 * also the HTTP status), 3 enrollment still pending (HTTP 202) after the allowed
 * retries, 64 usage error.
 */

import java.io.ByteArrayOutputStream;
import java.io.FileReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStreamWriter;
import java.io.Reader;
import java.io.Writer;
import java.math.BigInteger;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.SecureRandom;
import java.security.Security;
import java.security.cert.TrustAnchor;
import java.security.cert.X509Certificate;
import java.security.spec.ECGenParameterSpec;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import javax.net.ssl.KeyManager;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509KeyManager;
import javax.net.ssl.X509TrustManager;

import org.bouncycastle.asn1.ASN1ObjectIdentifier;
import org.bouncycastle.asn1.pkcs.PKCSObjectIdentifiers;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x500.X500NameBuilder;
import org.bouncycastle.asn1.x500.style.BCStyle;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.Extensions;
import org.bouncycastle.asn1.x509.ExtensionsGenerator;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.est.CACertsResponse;
import org.bouncycastle.est.CSRRequestResponse;
import org.bouncycastle.est.ESTAuth;
import org.bouncycastle.est.ESTException;
import org.bouncycastle.est.ESTService;
import org.bouncycastle.est.EnrollmentResponse;
import org.bouncycastle.est.jcajce.JcaHttpAuthBuilder;
import org.bouncycastle.est.jcajce.JcaJceUtils;
import org.bouncycastle.est.jcajce.JsseDefaultHostnameAuthorizer;
import org.bouncycastle.est.jcajce.JsseESTServiceBuilder;
import org.bouncycastle.est.jcajce.SSLSocketFactoryCreator;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.ContentSigner;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.pkcs.PKCS10CertificationRequest;
import org.bouncycastle.pkcs.jcajce.JcaPKCS10CertificationRequestBuilder;
import org.bouncycastle.util.Store;

public class BcEstClient
{
    static final int EXIT_FAIL = 2;
    static final int EXIT_PENDING = 3;
    static final int EXIT_USAGE = 64;

    static final String USAGE =
        "usage: BcEstClient COMMAND --server https://HOST:PORT --trust ROOTS.pem [--label LABEL] [--tls 1.2|1.3]\n"
            + "                   [--trust-impl jdk|bc] [--timeout-ms N] [--debug]\n"
            + "  cacerts    --out chain.pem\n"
            + "  csrattrs\n"
            + "  enroll     --user EMAIL --password PASS --cn CN [--dns NAME]... --out-cert cert.pem --out-key key.pem\n"
            + "             [--key ec-p256|rsa-2048] [--out-chain all.pem] [--retries N]\n"
            + "  serverkeygen --user EMAIL --password PASS --cn CN --out-cert cert.pem --out-key key.pem\n"
            + "  enroll-pop --user EMAIL --password PASS --cn CN --out-cert cert.pem --out-key key.pem [--key ec-p256|rsa-2048]\n"
            + "  enroll-tls --cert cert.pem --key key.pem [--chain ca.pem] --cn CN [--dns NAME]... --out-cert new.pem --out-key newkey.pem\n"
            + "             [--new-key ec-p256|rsa-2048] [--user EMAIL --password PASS] [--force-client-cert]\n"
            + "             [--out-chain all.pem] [--retries N]\n"
            + "  reenroll   --cert cert.pem --key key.pem [--chain ca.pem] --out-cert new.pem [--rekey --out-key newkey.pem]\n"
            + "             [--new-key ec-p256|rsa-2048] [--user EMAIL --password PASS] [--force-client-cert]\n"
            + "             [--change-subject DN]  (RFC 6402 ChangeSubjectName: ask for a new subject)\n"
            + "             [--out-chain all.pem] [--retries N]\n";

    static final Set<String> FLAGS = new HashSet<String>(Arrays.asList("rekey", "debug", "force-client-cert"));
    static final Set<String> REPEATABLE = new HashSet<String>(Arrays.asList("dns"));

    static class UsageException
        extends Exception
    {
        private static final long serialVersionUID = 1L;

        UsageException(String msg)
        {
            super(msg);
        }
    }

    static class PendingException
        extends Exception
    {
        private static final long serialVersionUID = 1L;

        PendingException(String msg)
        {
            super(msg);
        }
    }

    /** Raised for checks this client makes itself (as opposed to errors thrown by BC). */
    static class CheckFailed
        extends Exception
    {
        private static final long serialVersionUID = 1L;

        CheckFailed(String msg)
        {
            super(msg);
        }
    }

    // ------------------------------------------------------------------ args

    static class Args
    {
        final String command;
        final Map<String, List<String>> values = new HashMap<String, List<String>>();
        final Set<String> flags = new HashSet<String>();

        Args(String[] argv)
            throws UsageException
        {
            if (argv.length == 0)
            {
                throw new UsageException("missing command");
            }
            command = argv[0];
            for (int i = 1; i < argv.length; i++)
            {
                String a = argv[i];
                if (!a.startsWith("--") || a.length() < 3)
                {
                    throw new UsageException("unexpected argument: " + a);
                }
                String name = a.substring(2);
                if (FLAGS.contains(name))
                {
                    flags.add(name);
                    continue;
                }
                if (i + 1 >= argv.length)
                {
                    throw new UsageException("missing value for --" + name);
                }
                String v = argv[++i];
                List<String> l = values.get(name);
                if (l == null)
                {
                    l = new ArrayList<String>();
                    values.put(name, l);
                }
                else if (!REPEATABLE.contains(name))
                {
                    throw new UsageException("--" + name + " given more than once");
                }
                l.add(v);
            }
        }

        String opt(String name)
        {
            List<String> l = values.get(name);
            return l == null ? null : l.get(0);
        }

        List<String> all(String name)
        {
            List<String> l = values.get(name);
            return l == null ? new ArrayList<String>() : l;
        }

        String req(String name)
            throws UsageException
        {
            String v = opt(name);
            if (v == null)
            {
                throw new UsageException("--" + name + " is required for " + command);
            }
            return v;
        }

        boolean flag(String name)
        {
            return flags.contains(name);
        }

        void allowOnly(String... names)
            throws UsageException
        {
            Set<String> ok = new HashSet<String>(Arrays.asList(
                "server", "label", "trust", "tls", "trust-impl", "timeout-ms", "debug"));
            ok.addAll(Arrays.asList(names));
            for (String k : values.keySet())
            {
                if (!ok.contains(k))
                {
                    throw new UsageException("option --" + k + " is not valid for " + command);
                }
            }
            for (String k : flags)
            {
                if (!ok.contains(k))
                {
                    throw new UsageException("option --" + k + " is not valid for " + command);
                }
            }
        }
    }

    // ------------------------------------------------------------------ main

    public static void main(String[] argv)
    {
        int code;
        try
        {
            Security.addProvider(new BouncyCastleProvider());
            code = run(new Args(argv));
        }
        catch (UsageException e)
        {
            System.err.println("usage error: " + e.getMessage());
            System.err.print(USAGE);
            code = EXIT_USAGE;
        }
        catch (PendingException e)
        {
            System.err.println("pending: " + e.getMessage());
            code = EXIT_PENDING;
        }
        catch (Throwable t)
        {
            reportFailure(t);
            code = EXIT_FAIL;
        }
        System.out.flush();
        System.err.flush();
        System.exit(code);
    }

    static void reportFailure(Throwable t)
    {
        System.err.println("error: " + t.getClass().getName() + ": " + t.getMessage());
        ESTException est = findEst(t);
        if (est != null)
        {
            System.err.println("http-status: " + est.getStatusCode());
            try
            {
                InputStream body = est.getBody();
                if (body != null)
                {
                    byte[] b = readAll(body);
                    if (b.length > 0)
                    {
                        String s = new String(b, 0, Math.min(b.length, 2000), StandardCharsets.UTF_8);
                        System.err.println("http-body: " + s.replace("\r", "\\r").replace("\n", "\\n"));
                    }
                }
            }
            catch (Throwable ignored)
            {
                // best effort only
            }
        }
        Throwable c = t.getCause();
        Set<Throwable> seen = new HashSet<Throwable>();
        while (c != null && c != t && seen.add(c))
        {
            System.err.println("caused-by: " + c.getClass().getName() + ": " + c.getMessage());
            c = c.getCause();
        }
    }

    static ESTException findEst(Throwable t)
    {
        Set<Throwable> seen = new HashSet<Throwable>();
        while (t != null && seen.add(t))
        {
            if (t instanceof ESTException)
            {
                return (ESTException)t;
            }
            t = t.getCause();
        }
        return null;
    }

    static int run(Args a)
        throws Exception
    {
        if (a.flag("debug"))
        {
            // BC prints the raw HTTP traffic to stdout when this is set.
            System.setProperty("org.bouncycastle.debug.est", "all");
        }
        String cmd = a.command;
        if (cmd.equals("cacerts"))
        {
            a.allowOnly("out");
            return cmdCacerts(a);
        }
        else if (cmd.equals("csrattrs"))
        {
            a.allowOnly();
            return cmdCsrattrs(a);
        }
        else if (cmd.equals("enroll"))
        {
            a.allowOnly("user", "password", "cn", "dns", "out-cert", "out-key", "key", "out-chain", "retries");
            return cmdEnroll(a);
        }
        else if (cmd.equals("serverkeygen"))
        {
            a.allowOnly("user", "password", "cn", "out-cert", "out-key");
            return cmdServerKeygen(a);
        }
        else if (cmd.equals("enroll-pop"))
        {
            a.allowOnly("user", "password", "cn", "out-cert", "out-key", "key");
            return cmdEnrollPop(a);
        }
        else if (cmd.equals("enroll-tls"))
        {
            a.allowOnly("cert", "key", "chain", "cn", "dns", "out-cert", "out-key", "new-key", "user", "password",
                "force-client-cert", "out-chain", "retries");
            return cmdEnrollTls(a);
        }
        else if (cmd.equals("reenroll"))
        {
            a.allowOnly("cert", "key", "chain", "out-cert", "rekey", "out-key", "new-key", "user", "password",
                "force-client-cert", "out-chain", "retries", "change-subject");
            return cmdReenroll(a);
        }
        else if (cmd.equals("help") || cmd.equals("--help"))
        {
            System.out.print(USAGE);
            return 0;
        }
        throw new UsageException("unknown command: " + cmd);
    }

    // ------------------------------------------------------------------ commands

    static int cmdCacerts(Args a)
        throws Exception
    {
        String out = a.req("out");
        ESTService est = buildService(a, null);
        CACertsResponse resp = est.getCACerts();
        if (!resp.hasCertificates())
        {
            // BC only parses the body when a positive Content-Length header is present.
            throw new CheckFailed("cacerts response carried no certificates (204, empty body, or no Content-Length)");
        }
        Store<X509CertificateHolder> store = resp.getCertificateStore();
        X509CertificateHolder[] certs = ESTService.storeToArray(store);
        if (certs.length < 1)
        {
            throw new CheckFailed("cacerts response contained no certificates");
        }
        writePem(out, Arrays.asList((Object[])certs));
        System.err.println("info: cacerts trusted=" + resp.isTrusted() + " crls="
            + (resp.hasCRLs() ? resp.getCrlStore().getMatches(null).size() : 0));
        for (X509CertificateHolder c : certs)
        {
            System.err.println("info: cacerts cert subject=" + c.getSubject() + " serial=" + hex(c.getSerialNumber()));
        }
        System.out.println("cacerts ok " + certs.length);
        return 0;
    }

    static int cmdCsrattrs(Args a)
        throws Exception
    {
        ESTService est = buildService(a, null);
        CSRRequestResponse resp = est.getCSRAttributes();
        if (!resp.hasAttributesResponse())
        {
            System.out.println("csrattrs ok 0");
            return 0;
        }
        Collection<ASN1ObjectIdentifier> oids = resp.getAttributesResponse().getRequirements();
        StringBuilder sb = new StringBuilder();
        for (ASN1ObjectIdentifier oid : oids)
        {
            sb.append(' ').append(oid.getId());
        }
        System.out.println("csrattrs ok " + oids.size() + sb);
        return 0;
    }

    static int cmdEnroll(Args a)
        throws Exception
    {
        String user = a.req("user");
        String password = a.req("password");
        String cn = a.req("cn");
        String outCert = a.req("out-cert");
        String outKey = a.req("out-key");
        String keyType = a.opt("key") == null ? "ec-p256" : a.opt("key");

        KeyPair kp = generateKeyPair(keyType);
        PKCS10CertificationRequest csr = buildCsr(cnName(cn), kp, sanFromDns(a.all("dns")));
        ESTService est = buildService(a, null);
        EnrollmentResponse resp = est.simpleEnroll(false, csr, basicAuth(user, password));
        X509CertificateHolder issued = finishEnrollment(a, est, resp, kp.getPublic());
        writePem(outKey, Arrays.asList((Object)new JcaPKCS8Generator(kp.getPrivate(), null)));
        writePem(outCert, Arrays.asList((Object)issued));
        System.out.println("enroll ok " + hex(issued.getSerialNumber()));
        return 0;
    }

    /**
     * simpleenroll with proof-of-possession linking (RFC 7030 §3.5): Bouncy Castle puts the TLS
     * session's tls-unique into the CSR's challengePassword and signs the CSR after the handshake.
     */
    static int cmdEnrollPop(Args a)
        throws Exception
    {
        String keyType = a.opt("key") == null ? "ec-p256" : a.opt("key");
        KeyPair kp = generateKeyPair(keyType);
        JcaPKCS10CertificationRequestBuilder b = new JcaPKCS10CertificationRequestBuilder(cnName(a.req("cn")), kp.getPublic());
        String alg = kp.getPublic().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        ContentSigner signer = new JcaContentSignerBuilder(alg).setProvider("BC").build(kp.getPrivate());
        ESTService est = buildService(a, null);
        EnrollmentResponse resp = est.simpleEnrollPoP(false, b, signer, basicAuth(a.req("user"), a.req("password")));
        X509CertificateHolder issued = finishEnrollment(a, est, resp, kp.getPublic());
        writePem(a.req("out-key"), Arrays.asList((Object)new JcaPKCS8Generator(kp.getPrivate(), null)));
        writePem(a.req("out-cert"), Arrays.asList((Object)issued));
        System.out.println("enroll-pop ok " + hex(issued.getSerialNumber()));
        return 0;
    }

    /** RFC 7030 §4.4 server-side key generation: the CSR's own key is a throwaway; the server makes the real one. */
    static int cmdServerKeygen(Args a)
        throws Exception
    {
        KeyPair throwaway = generateKeyPair("ec-p256");
        PKCS10CertificationRequest csr = buildCsr(cnName(a.req("cn")), throwaway, null);
        ESTService est = buildService(a, null);
        EnrollmentResponse resp = est.simpleEnrollWithServersideCreation(csr, basicAuth(a.req("user"), a.req("password")));
        if (resp.getPrivateKeyInfo() == null)
        {
            throw new IllegalStateException("no private key in the serverkeygen response");
        }
        X509CertificateHolder issued = (X509CertificateHolder)resp.getStore().getMatches(null).iterator().next();
        writePem(a.req("out-key"), Arrays.asList((Object)new org.bouncycastle.util.io.pem.PemObject("PRIVATE KEY", resp.getPrivateKeyInfo().getEncoded())));
        writePem(a.req("out-cert"), Arrays.asList((Object)issued));
        System.out.println("serverkeygen ok " + hex(issued.getSerialNumber()));
        return 0;
    }

    static int cmdEnrollTls(Args a)
        throws Exception
    {
        String cn = a.req("cn");
        String outCert = a.req("out-cert");
        String outKey = a.req("out-key");
        String keyType = a.opt("new-key") == null ? "ec-p256" : a.opt("new-key");
        ESTAuth auth = optionalBasic(a);
        ClientCredential cred = loadCredential(a);

        KeyPair kp = generateKeyPair(keyType);
        PKCS10CertificationRequest csr = buildCsr(cnName(cn), kp, sanFromDns(a.all("dns")));
        ESTService est = buildService(a, cred);
        EnrollmentResponse resp = est.simpleEnroll(false, csr, auth);
        X509CertificateHolder issued = finishEnrollment(a, est, resp, kp.getPublic());
        writePem(outKey, Arrays.asList((Object)new JcaPKCS8Generator(kp.getPrivate(), null)));
        writePem(outCert, Arrays.asList((Object)issued));
        System.out.println("enroll ok " + hex(issued.getSerialNumber()));
        return 0;
    }

    static int cmdReenroll(Args a)
        throws Exception
    {
        String outCert = a.req("out-cert");
        boolean rekey = a.flag("rekey");
        String outKey = a.opt("out-key");
        if (rekey && outKey == null)
        {
            throw new UsageException("--rekey requires --out-key");
        }
        if (!rekey && (outKey != null || a.opt("new-key") != null))
        {
            throw new UsageException("--out-key/--new-key only make sense with --rekey");
        }
        ESTAuth auth = optionalBasic(a);
        ClientCredential cred = loadCredential(a);

        X509CertificateHolder current = cred.chain[0];
        KeyPair kp;
        if (rekey)
        {
            String keyType = a.opt("new-key") != null ? a.opt("new-key") : keyTypeOf(cred.cert.getPublicKey());
            kp = generateKeyPair(keyType);
        }
        else
        {
            kp = new KeyPair(cred.cert.getPublicKey(), cred.key);
        }

        // RFC 7030 4.2.2: Subject must be identical to the current certificate's; we
        // copy the SAN extension too, as real re-enrolling clients do.
        X500Name subject = X500Name.getInstance(current.getSubject().toASN1Primitive());
        Extensions ext = null;
        Extension san = current.getExtension(Extension.subjectAlternativeName);
        if (san != null)
        {
            ExtensionsGenerator g = new ExtensionsGenerator();
            g.addExtension(san);
            ext = g.generate();
        }
        // RFC 7030 4.2.2 / RFC 6402 2.8: the CSR keeps the current names; the attribute carries the new subject
        org.bouncycastle.asn1.ASN1Encodable change = a.opt("change-subject") == null ? null
            : new org.bouncycastle.asn1.DERSequence(new X500Name(a.opt("change-subject")));
        PKCS10CertificationRequest csr = buildCsr(subject, kp, ext, change);
        byte[] want = current.getSubject().getEncoded();
        byte[] got = csr.getSubject().getEncoded();
        if (!Arrays.equals(want, got))
        {
            throw new CheckFailed("internal: CSR subject encoding differs from the current certificate's subject");
        }

        ESTService est = buildService(a, cred);
        EnrollmentResponse resp = est.simpleEnroll(true, csr, auth);
        X509CertificateHolder issued = finishEnrollment(a, est, resp, kp.getPublic());
        if (rekey)
        {
            writePem(outKey, Arrays.asList((Object)new JcaPKCS8Generator(kp.getPrivate(), null)));
        }
        writePem(outCert, Arrays.asList((Object)issued));
        System.out.println("reenroll ok " + hex(issued.getSerialNumber()));
        return 0;
    }

    // ------------------------------------------------------------------ enrollment helpers

    static ESTAuth basicAuth(String user, String password)
        throws Exception
    {
        // realm == null: BC then accepts whatever realm the server's challenge names.
        return new JcaHttpAuthBuilder(null, user, password.toCharArray())
            .setNonceGenerator(new SecureRandom())
            .setProvider("BC")
            .build();
    }

    static ESTAuth optionalBasic(Args a)
        throws Exception
    {
        String user = a.opt("user");
        String password = a.opt("password");
        if ((user == null) != (password == null))
        {
            throw new UsageException("--user and --password must be given together");
        }
        return user == null ? null : basicAuth(user, password);
    }

    /**
     * Handles 202 (pending) by retrying up to --retries times (default 0), waiting until
     * the Retry-After time BC computed (capped at 30 s per wait), then picks the issued
     * certificate (the one whose public key matches ours) from the certs-only response.
     */
    static X509CertificateHolder finishEnrollment(Args a, ESTService est, EnrollmentResponse resp, PublicKey pub)
        throws Exception
    {
        int retries = a.opt("retries") == null ? 0 : parseInt(a.opt("retries"), "retries");
        while (!resp.isCompleted())
        {
            long waitMs = Math.max(0, resp.getNotBefore() - System.currentTimeMillis());
            System.err.println("info: server answered 202, retry after " + waitMs + " ms");
            if (retries-- <= 0)
            {
                throw new PendingException("enrollment pending (HTTP 202), retry after " + waitMs + " ms");
            }
            Thread.sleep(Math.min(waitMs, 30000));
            resp = est.simpleEnroll(resp);
        }
        Store<X509CertificateHolder> store = resp.getStore();
        if (store == null)
        {
            throw new CheckFailed("enrollment response carried no certificate store");
        }
        X509CertificateHolder[] certs = ESTService.storeToArray(store);
        if (certs.length == 0)
        {
            throw new CheckFailed("enrollment response contained no certificates");
        }
        byte[] ourSpki = pub.getEncoded();
        X509CertificateHolder issued = null;
        for (X509CertificateHolder c : certs)
        {
            if (Arrays.equals(c.getSubjectPublicKeyInfo().getEncoded(), ourSpki))
            {
                if (issued != null)
                {
                    throw new CheckFailed("enrollment response contained more than one certificate for our key");
                }
                issued = c;
            }
        }
        if (issued == null)
        {
            throw new CheckFailed("none of the " + certs.length + " returned certificate(s) certifies the requested public key");
        }
        if (certs.length != 1)
        {
            System.err.println("info: enrollment response contained " + certs.length + " certificates");
        }
        String outChain = a.opt("out-chain");
        if (outChain != null)
        {
            writePem(outChain, Arrays.asList((Object[])certs));
        }
        System.err.println("info: issued subject=" + issued.getSubject() + " issuer=" + issued.getIssuer()
            + " serial=" + hex(issued.getSerialNumber()));
        return issued;
    }

    static KeyPair generateKeyPair(String type)
        throws Exception
    {
        // JDK default providers (SunEC / SunRsaSign) so the same key objects work with SunJSSE.
        if (type.equals("ec-p256"))
        {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(new ECGenParameterSpec("secp256r1"), new SecureRandom());
            return g.generateKeyPair();
        }
        else if (type.equals("rsa-2048"))
        {
            KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
            g.initialize(2048, new SecureRandom());
            return g.generateKeyPair();
        }
        throw new UsageException("unknown key type: " + type + " (want ec-p256 or rsa-2048)");
    }

    static String keyTypeOf(PublicKey pub)
        throws UsageException
    {
        if (pub.getAlgorithm().equals("EC"))
        {
            return "ec-p256";
        }
        if (pub.getAlgorithm().equals("RSA"))
        {
            return "rsa-2048";
        }
        throw new UsageException("cannot re-key a " + pub.getAlgorithm() + " key; pass --new-key");
    }

    /** Subject consisting of the single RDN CN=cn (UTF8String, as BCStyle encodes it). */
    static X500Name cnName(String cn)
    {
        return new X500NameBuilder(BCStyle.INSTANCE).addRDN(BCStyle.CN, cn).build();
    }

    static Extensions sanFromDns(List<String> names)
        throws IOException
    {
        if (names.isEmpty())
        {
            return null;
        }
        GeneralName[] gn = new GeneralName[names.size()];
        for (int i = 0; i < gn.length; i++)
        {
            String n = names.get(i);
            gn[i] = isIpLiteral(n) ? new GeneralName(GeneralName.iPAddress, n) : new GeneralName(GeneralName.dNSName, n);
        }
        ExtensionsGenerator g = new ExtensionsGenerator();
        g.addExtension(Extension.subjectAlternativeName, false, new GeneralNames(gn));
        return g.generate();
    }

    static final Pattern IPV4 = Pattern.compile("^\\d{1,3}(\\.\\d{1,3}){3}$");

    static boolean isIpLiteral(String s)
    {
        return IPV4.matcher(s).matches() || s.contains(":");
    }

    static PKCS10CertificationRequest buildCsr(X500Name subject, KeyPair kp, Extensions ext)
        throws Exception
    {
        return buildCsr(subject, kp, ext, null);
    }

    static PKCS10CertificationRequest buildCsr(X500Name subject, KeyPair kp, Extensions ext, org.bouncycastle.asn1.ASN1Encodable changeSubjectName)
        throws Exception
    {
        JcaPKCS10CertificationRequestBuilder b = new JcaPKCS10CertificationRequestBuilder(subject, kp.getPublic());
        if (ext != null)
        {
            b.addAttribute(PKCSObjectIdentifiers.pkcs_9_at_extensionRequest, ext);
        }
        if (changeSubjectName != null)
        {
            b.addAttribute(new org.bouncycastle.asn1.ASN1ObjectIdentifier("1.3.6.1.5.5.7.7.36") /* id-cmc-changeSubjectName */, changeSubjectName);
        }
        String alg = kp.getPublic().getAlgorithm().equals("EC") ? "SHA256withECDSA" : "SHA256withRSA";
        ContentSigner signer = new JcaContentSignerBuilder(alg).setProvider("BC").build(kp.getPrivate());
        return b.build(signer);
    }

    // ------------------------------------------------------------------ TLS / service

    static class ClientCredential
    {
        X509CertificateHolder[] chain;
        X509Certificate cert;
        X509Certificate[] jcaChain;
        PrivateKey key;
    }

    /**
     * The TLS client chain is the certificates of --cert (first = the credential's
     * certificate) followed by those of --chain, if given.
     */
    static ClientCredential loadCredential(Args a)
        throws Exception
    {
        String certPath = a.req("cert");
        String keyPath = a.req("key");
        List<X509CertificateHolder> certs = readCerts(certPath);
        if (certs.isEmpty())
        {
            throw new CheckFailed("no certificate in " + certPath);
        }
        if (a.opt("chain") != null)
        {
            certs.addAll(readCerts(a.opt("chain")));
        }
        ClientCredential c = new ClientCredential();
        c.chain = certs.toArray(new X509CertificateHolder[0]);
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
        c.jcaChain = new X509Certificate[certs.size()];
        for (int i = 0; i < certs.size(); i++)
        {
            c.jcaChain[i] = conv.getCertificate(certs.get(i));
        }
        c.cert = c.jcaChain[0];
        c.key = readPrivateKey(keyPath);
        return c;
    }

    static String serverAuthority(String server)
        throws UsageException
    {
        // BC's builder wants "host:port" and adds https:// and /.well-known/est[/label] itself.
        String s = server;
        if (s.contains("://"))
        {
            URI u = URI.create(s);
            if (!"https".equalsIgnoreCase(u.getScheme()))
            {
                throw new UsageException("--server must be https://HOST:PORT");
            }
            if (u.getPath() != null && !u.getPath().isEmpty() && !u.getPath().equals("/"))
            {
                throw new UsageException("--server must not contain a path (use --label)");
            }
            s = u.getRawAuthority();
        }
        while (s.endsWith("/"))
        {
            s = s.substring(0, s.length() - 1);
        }
        return s;
    }

    static ESTService buildService(Args a, ClientCredential cred)
        throws Exception
    {
        String authority = serverAuthority(a.req("server"));
        X509TrustManager[] tms = trustManagers(a.req("trust"), a.opt("trust-impl"));
        KeyManager[] kms = null;
        if (cred != null)
        {
            kms = keyManagers(cred, a.flag("force-client-cert"));
        }
        String tls = a.opt("tls");
        String[] protocols = null;
        if (tls != null)
        {
            if (tls.equals("1.2"))
            {
                protocols = new String[]{"TLSv1.2"};
            }
            else if (tls.equals("1.3"))
            {
                protocols = new String[]{"TLSv1.3"};
            }
            else
            {
                throw new UsageException("--tls must be 1.2 or 1.3");
            }
        }
        int timeout = a.opt("timeout-ms") == null ? 30000 : parseInt(a.opt("timeout-ms"), "timeout-ms");

        // Proof-of-possession linking needs tls-unique, which only Bouncy Castle's own JSSE provider exposes.
        boolean bcJsse = a.command.equals("enroll-pop");
        if (bcJsse && java.security.Security.getProvider("BCJSSE") == null)
        {
            java.security.Security.addProvider(new org.bouncycastle.jsse.provider.BouncyCastleJsseProvider());
        }
        JsseESTServiceBuilder b = new JsseESTServiceBuilder(authority, new PinnedSocketFactoryCreator(tms, kms, protocols, bcJsse ? "BCJSSE" : null));
        if (bcJsse)
        {
            b.withChannelBindingProvider(new org.bouncycastle.est.jcajce.ChannelBindingProvider()
            {
                public boolean canAccessChannelBinding(java.net.Socket sock)
                {
                    return sock instanceof org.bouncycastle.jsse.BCSSLSocket;
                }

                public byte[] getChannelBinding(java.net.Socket sock, String binding)
                {
                    return ((org.bouncycastle.jsse.BCSSLSocket)sock).getConnection().getChannelBinding(binding);
                }
            });
        }
        // Hostname verification stays on: BC's default authorizer checks dNSName SANs and
        // iPAddress SANs (InetAddress equality), falling back to the subject CN only when
        // no SAN matched.
        b.withHostNameAuthorizer(new JsseDefaultHostnameAuthorizer(null));
        b.withTimeout(timeout);
        String label = a.opt("label");
        if (label != null)
        {
            b.withLabel(label);
        }
        return b.build();
    }

    static X509TrustManager[] trustManagers(String trustPem, String impl)
        throws Exception
    {
        List<X509CertificateHolder> roots = readCerts(trustPem);
        if (roots.isEmpty())
        {
            throw new CheckFailed("no certificates in trust file " + trustPem);
        }
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter();
        if (impl == null || impl.equals("jdk"))
        {
            // Standard JDK PKIX trust manager over an in-memory key store of the anchors.
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            int i = 0;
            for (X509CertificateHolder h : roots)
            {
                ks.setCertificateEntry("anchor-" + (i++), conv.getCertificate(h));
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance("PKIX");
            tmf.init(ks);
            List<X509TrustManager> out = new ArrayList<X509TrustManager>();
            for (TrustManager tm : tmf.getTrustManagers())
            {
                if (tm instanceof X509TrustManager)
                {
                    out.add((X509TrustManager)tm);
                }
            }
            return out.toArray(new X509TrustManager[0]);
        }
        else if (impl.equals("bc"))
        {
            // BC's own cert path trust manager (BC PKIX CertPathBuilder, no revocation).
            Set<TrustAnchor> anchors = new LinkedHashSet<TrustAnchor>();
            for (X509CertificateHolder h : roots)
            {
                anchors.add(new TrustAnchor(conv.getCertificate(h), null));
            }
            return JcaJceUtils.getCertPathTrustManager(anchors, null);
        }
        throw new UsageException("--trust-impl must be jdk or bc");
    }

    static KeyManager[] keyManagers(ClientCredential cred, boolean force)
        throws Exception
    {
        char[] pw = "in-memory".toCharArray();
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        ks.setKeyEntry("client", cred.key, pw, cred.jcaChain);
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(ks, pw);
        KeyManager[] kms = kmf.getKeyManagers();
        if (!force)
        {
            return kms;
        }
        for (int i = 0; i < kms.length; i++)
        {
            if (kms[i] instanceof X509KeyManager)
            {
                kms[i] = new ForcingKeyManager((X509KeyManager)kms[i]);
            }
        }
        return kms;
    }

    /**
     * The JDK key manager only offers the client certificate if its issuer is in the CA list
     * the server sends in CertificateRequest. With --force-client-cert we fall back to
     * offering it anyway, so negative tests (certificate from a foreign CA) actually reach
     * the server.
     */
    static class ForcingKeyManager
        extends X509ExtendedKeyManager
    {
        private final X509KeyManager d;

        ForcingKeyManager(X509KeyManager d)
        {
            this.d = d;
        }

        public String[] getClientAliases(String keyType, Principal[] issuers)
        {
            return d.getClientAliases(keyType, issuers);
        }

        public String chooseClientAlias(String[] keyType, Principal[] issuers, Socket socket)
        {
            String s = d.chooseClientAlias(keyType, issuers, socket);
            return s != null ? s : d.chooseClientAlias(keyType, null, socket);
        }

        public String chooseEngineClientAlias(String[] keyType, Principal[] issuers, SSLEngine engine)
        {
            return chooseClientAlias(keyType, issuers, null);
        }

        public String[] getServerAliases(String keyType, Principal[] issuers)
        {
            return d.getServerAliases(keyType, issuers);
        }

        public String chooseServerAlias(String keyType, Principal[] issuers, Socket socket)
        {
            return d.chooseServerAlias(keyType, issuers, socket);
        }

        public X509Certificate[] getCertificateChain(String alias)
        {
            return d.getCertificateChain(alias);
        }

        public PrivateKey getPrivateKey(String alias)
        {
            return d.getPrivateKey(alias);
        }
    }

    /**
     * SSLSocketFactoryCreator on the JDK's default JSSE provider (SunJSSE; BCJSSE is not used).
     * If a protocol pin is given, every socket gets exactly that protocol enabled (an
     * SSLContext of "TLSv1.3" alone would still offer TLS 1.2). Logs the negotiated
     * protocol and cipher suite to stderr.
     */
    static class PinnedSocketFactoryCreator
        implements SSLSocketFactoryCreator
    {
        private final X509TrustManager[] tms;
        private final KeyManager[] kms;
        private final String[] protocols;
        private final String provider;

        PinnedSocketFactoryCreator(X509TrustManager[] tms, KeyManager[] kms, String[] protocols, String provider)
        {
            this.tms = tms;
            this.kms = kms;
            this.protocols = protocols;
            this.provider = provider;
        }

        public boolean isTrusted()
        {
            for (X509TrustManager tm : tms)
            {
                if (tm.getAcceptedIssuers().length > 0)
                {
                    return true;
                }
            }
            return false;
        }

        public SSLSocketFactory createFactory()
            throws Exception
        {
            SSLContext ctx = provider == null ? SSLContext.getInstance("TLS") : SSLContext.getInstance("TLS", provider);
            ctx.init(kms, tms, new SecureRandom());
            return new ConfiguringSocketFactory(ctx.getSocketFactory(), protocols);
        }
    }

    static class ConfiguringSocketFactory
        extends SSLSocketFactory
    {
        private final SSLSocketFactory d;
        private final String[] protocols;

        ConfiguringSocketFactory(SSLSocketFactory d, String[] protocols)
        {
            this.d = d;
            this.protocols = protocols;
        }

        private Socket configure(Socket s)
        {
            if (s instanceof SSLSocket)
            {
                final SSLSocket ss = (SSLSocket)s;
                if (protocols != null)
                {
                    ss.setEnabledProtocols(protocols);
                }
                ss.addHandshakeCompletedListener(ev -> System.err.println(
                    "info: tls " + ev.getSession().getProtocol() + " " + ev.getCipherSuite()
                        + " client-cert=" + (ev.getLocalCertificates() != null)));
            }
            return s;
        }

        public String[] getDefaultCipherSuites()
        {
            return d.getDefaultCipherSuites();
        }

        public String[] getSupportedCipherSuites()
        {
            return d.getSupportedCipherSuites();
        }

        public Socket createSocket(Socket s, String host, int port, boolean autoClose)
            throws IOException
        {
            return configure(d.createSocket(s, host, port, autoClose));
        }

        public Socket createSocket(String host, int port)
            throws IOException
        {
            return configure(d.createSocket(host, port));
        }

        public Socket createSocket(String host, int port, InetAddress localHost, int localPort)
            throws IOException
        {
            return configure(d.createSocket(host, port, localHost, localPort));
        }

        public Socket createSocket(InetAddress host, int port)
            throws IOException
        {
            return configure(d.createSocket(host, port));
        }

        public Socket createSocket(InetAddress address, int port, InetAddress localAddress, int localPort)
            throws IOException
        {
            return configure(d.createSocket(address, port, localAddress, localPort));
        }
    }

    // ------------------------------------------------------------------ PEM I/O

    static List<X509CertificateHolder> readCerts(String path)
        throws Exception
    {
        List<X509CertificateHolder> out = new ArrayList<X509CertificateHolder>();
        try (Reader r = new FileReader(path, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r))
        {
            Object o;
            while ((o = p.readObject()) != null)
            {
                if (o instanceof X509CertificateHolder)
                {
                    out.add((X509CertificateHolder)o);
                }
            }
        }
        return out;
    }

    static PrivateKey readPrivateKey(String path)
        throws Exception
    {
        // No provider set: keys come out as JDK (SunEC / SunRsaSign) objects for SunJSSE.
        JcaPEMKeyConverter conv = new JcaPEMKeyConverter();
        try (Reader r = new FileReader(path, StandardCharsets.US_ASCII); PEMParser p = new PEMParser(r))
        {
            Object o;
            while ((o = p.readObject()) != null)
            {
                if (o instanceof PrivateKeyInfo)
                {
                    return conv.getPrivateKey((PrivateKeyInfo)o);
                }
                if (o instanceof PEMKeyPair)
                {
                    return conv.getKeyPair((PEMKeyPair)o).getPrivate();
                }
            }
        }
        throw new CheckFailed("no unencrypted private key in " + path);
    }

    static void writePem(String path, List<Object> objs)
        throws IOException
    {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        try (Writer w = new OutputStreamWriter(bos, StandardCharsets.US_ASCII); JcaPEMWriter pw = new JcaPEMWriter(w))
        {
            for (Object o : objs)
            {
                if (o instanceof JcaPKCS8Generator)
                {
                    pw.writeObject((JcaPKCS8Generator)o);
                }
                else
                {
                    pw.writeObject(o);
                }
            }
        }
        Files.write(Paths.get(path), bos.toByteArray());
    }

    // ------------------------------------------------------------------ misc

    static String hex(BigInteger b)
    {
        return b.toString(16);
    }

    static int parseInt(String v, String name)
        throws UsageException
    {
        try
        {
            return Integer.parseInt(v);
        }
        catch (NumberFormatException e)
        {
            throw new UsageException("--" + name + " must be an integer");
        }
    }

    static byte[] readAll(InputStream in)
        throws IOException
    {
        ByteArrayOutputStream bos = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        int n;
        while ((n = in.read(buf)) >= 0)
        {
            bos.write(buf, 0, n);
        }
        return bos.toByteArray();
    }
}
