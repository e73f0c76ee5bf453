import java.io.FileReader;
import java.io.FileWriter;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.security.PrivateKey;
import java.security.Security;
import java.security.cert.CertPathBuilder;
import java.security.cert.CertStore;
import java.security.cert.CollectionCertStoreParameters;
import java.security.cert.PKIXBuilderParameters;
import java.security.cert.TrustAnchor;
import java.security.cert.X509CertSelector;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;

import org.bouncycastle.asn1.ASN1Sequence;
import org.bouncycastle.asn1.cms.ContentInfo;
import org.bouncycastle.asn1.cms.EnvelopedData;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.cert.X509CertificateHolder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cms.CMSEnvelopedData;
import org.bouncycastle.cms.CMSSignedData;
import org.bouncycastle.cms.Recipient;
import org.bouncycastle.cms.RecipientInformation;
import org.bouncycastle.cms.SignerInformation;
import org.bouncycastle.cms.jcajce.JceKeyAgreeEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JceKeyTransEnvelopedRecipient;
import org.bouncycastle.cms.jcajce.JcaSimpleSignerInfoVerifierBuilder;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.bouncycastle.util.io.pem.PemObject;
import org.bouncycastle.util.io.pem.PemWriter;

/**
 * An independent check of an encrypted server-generated key (RFC 7030 §4.4.2, RFC 5958 §4) with
 * Bouncy Castle's CMS classes: decrypt the EnvelopedData with the client key, verify the SignedData
 * signature and the signer's chain to a trust anchor, and write the first key of the
 * AsymmetricKeyPackage as PKCS#8 PEM.
 *
 * Usage: BcKeyPackage ENVELOPED.der RECIPIENT-CERT.pem RECIPIENT-KEY.pem TRUST-ANCHOR.pem OUT-KEY.pem
 * Prints "encryptedContentType OID", "eContentType OID", "signer DN", "key-package ok N"; exit 2 on failure.
 */
public class BcKeyPackage
{
    public static void main(String[] args)
    {
        try
        {
            run(args);
        }
        catch (Exception e)
        {
            System.err.println("error: " + e);
            System.exit(2);
        }
    }

    static Object readPem(String path)
        throws Exception
    {
        try (PEMParser p = new PEMParser(new FileReader(path)))
        {
            return p.readObject();
        }
    }

    static void run(String[] args)
        throws Exception
    {
        if (args.length != 5)
        {
            System.err.println("usage: BcKeyPackage ENVELOPED.der RECIPIENT-CERT.pem RECIPIENT-KEY.pem TRUST-ANCHOR.pem OUT-KEY.pem");
            System.exit(64);
        }
        Security.addProvider(new BouncyCastleProvider());
        JcaX509CertificateConverter conv = new JcaX509CertificateConverter().setProvider("BC");
        CMSEnvelopedData env = new CMSEnvelopedData(Files.readAllBytes(Paths.get(args[0])));
        PrivateKey key = new JcaPEMKeyConverter().setProvider("BC").getPrivateKey((PrivateKeyInfo)readPem(args[2]));
        X509CertificateHolder anchor = (X509CertificateHolder)readPem(args[3]);

        EnvelopedData ed = EnvelopedData.getInstance(env.toASN1Structure().getContent());
        System.out.println("encryptedContentType " + ed.getEncryptedContentInfo().getContentType().getId());
        System.out.println("contentEncryption " + env.getEncryptionAlgOID());

        Recipient recipient = key.getAlgorithm().equals("RSA")
            ? new JceKeyTransEnvelopedRecipient(key).setProvider("BC")
            : new JceKeyAgreeEnvelopedRecipient(key).setProvider("BC");
        RecipientInformation ri = env.getRecipientInfos().getRecipients().iterator().next();
        byte[] content = ri.getContent(recipient);

        // The SignedData as a ContentInfo (what Bouncy Castle's own nesting produces) or bare.
        CMSSignedData signed;
        try
        {
            signed = new CMSSignedData(ContentInfo.getInstance(content));
        }
        catch (Exception notContentInfo)
        {
            signed = new CMSSignedData(new ContentInfo(org.bouncycastle.asn1.cms.CMSObjectIdentifiers.signedData, ASN1Sequence.getInstance(content)));
        }
        System.out.println("eContentType " + signed.getSignedContentTypeOID());

        Collection<X509CertificateHolder> holders = signed.getCertificates().getMatches(null);
        List<X509Certificate> certs = new ArrayList<X509Certificate>();
        for (X509CertificateHolder h : holders)
        {
            certs.add(conv.getCertificate(h));
        }
        for (SignerInformation si : signed.getSignerInfos().getSigners())
        {
            @SuppressWarnings("unchecked")
            Collection<X509CertificateHolder> match = signed.getCertificates().getMatches(si.getSID());
            if (match.isEmpty())
            {
                throw new IllegalStateException("the signer certificate is not in the SignedData");
            }
            X509CertificateHolder signerCert = match.iterator().next();
            if (!si.verify(new JcaSimpleSignerInfoVerifierBuilder().setProvider("BC").build(signerCert)))
            {
                throw new IllegalStateException("the signature does not verify");
            }
            // the signer chains to the trust anchor (PKIX, no revocation data here)
            X509CertSelector target = new X509CertSelector();
            target.setCertificate(conv.getCertificate(signerCert));
            PKIXBuilderParameters params = new PKIXBuilderParameters(Collections.singleton(new TrustAnchor(conv.getCertificate(anchor), null)), target);
            params.setRevocationEnabled(false);
            params.addCertStore(CertStore.getInstance("Collection", new CollectionCertStoreParameters(certs)));
            CertPathBuilder.getInstance("PKIX", "BC").build(params);
            System.out.println("signer " + signerCert.getSubject());
        }

        ASN1Sequence keyPackage = ASN1Sequence.getInstance((byte[])signed.getSignedContent().getContent());
        PrivateKeyInfo first = PrivateKeyInfo.getInstance(keyPackage.getObjectAt(0));
        try (PemWriter w = new PemWriter(new FileWriter(args[4])))
        {
            w.writeObject(new PemObject("PRIVATE KEY", first.getEncoded()));
        }
        System.out.println("key-package ok " + keyPackage.size());
    }
}
