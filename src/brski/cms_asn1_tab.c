/*  anchord - brski/cms_asn1_tab.c: GENERATED from cms.asn by libtasn1's
 *  asn1_parser2array() (libtasn1-bin's asn1Parser does the same):
 *      asn1Parser -o src/brski/cms_asn1_tab.c -n brski_cms_asn1_tab \
 *          src/brski/cms.asn
 *  then the config.h guard removed. Do not edit by hand.
 */
#include "brski/internal.h"

#include <libtasn1.h>

const asn1_static_node brski_cms_asn1_tab[] = {
  { "BRSKI-CMS", 536875024, NULL },
  { NULL, 1073741836, NULL },
  { "ContentInfo", 1610612741, NULL },
  { "contentType", 1073741836, NULL },
  { "content", 541073421, NULL },
  { NULL, 1073743880, "0"},
  { "contentType", 1, NULL },
  { "SignedData", 1610612741, NULL },
  { "version", 1073741827, NULL },
  { "digestAlgorithms", 1610612751, NULL },
  { NULL, 2, "AlgorithmIdentifier"},
  { "encapContentInfo", 1073741826, "EncapsulatedContentInfo"},
  { "certificates", 1610637327, NULL },
  { NULL, 1073745928, "0"},
  { NULL, 2, "Certificate"},
  { "crls", 1610637327, NULL },
  { NULL, 1073745928, "1"},
  { NULL, 2, "Certificate"},
  { "signerInfos", 536870927, NULL },
  { NULL, 2, "SignerInfo"},
  { "AlgorithmIdentifier", 1610612741, NULL },
  { "algorithm", 1073741836, NULL },
  { "parameters", 541081613, NULL },
  { "algorithm", 1, NULL },
  { "Certificate", 1073741837, NULL },
  { "EncapsulatedContentInfo", 1610612741, NULL },
  { "eContentType", 1073741836, NULL },
  { "eContent", 536895495, NULL },
  { NULL, 2056, "0"},
  { "SignerInfo", 1610612741, NULL },
  { "version", 1073741827, NULL },
  { "sid", 1073741837, NULL },
  { "digestAlgorithm", 1073741826, "AlgorithmIdentifier"},
  { "signedAttrs", 1610637314, "SignedAttributes"},
  { NULL, 4104, "0"},
  { "signatureAlgorithm", 1073741826, "AlgorithmIdentifier"},
  { "signature", 1073741831, NULL },
  { "unsignedAttrs", 536895503, NULL },
  { NULL, 1073745928, "1"},
  { NULL, 2, "Attribute"},
  { "SignedAttributes", 1610612751, NULL },
  { NULL, 2, "Attribute"},
  { "Attribute", 536870917, NULL },
  { "type", 1073741836, NULL },
  { "values", 536870927, NULL },
  { NULL, 13, NULL },
  { NULL, 0, NULL }
};
