// Which Anchorage lints answer which zlint v3.7.3 lints, as groups: on every corpus certificate, some zlint
// lint of a group fires (info, warn, error) exactly when some Anchorage lint of the group fires. A group
// with several zlint lints is one Anchorage lint covering what zlint splits (UTCTime and GeneralizedTime
// forms, each subject attribute's length). docs/findings.md shows the same table to readers, with the
// lints left out and why.

/** [zlint lint names, Anchorage lint ids]. */
export const ZLINT_GROUPS: readonly (readonly [readonly string[], readonly string[]])[] = [
  [['e_serial_number_not_positive'], ['x509.serial.not-positive']],
  [['e_serial_number_longer_than_20_octets'], ['x509.serial.too-long']],
  [['e_cert_extensions_version_not_3'], ['x509.version.extensions-not-v3']],
  [['e_ext_duplicate_extension'], ['x509.extension.duplicate']],
  [['e_cert_ext_invalid_der'], ['x509.extension.explicit-critical-false']],
  [['e_basic_constr_invalid_der'], ['x509.extension.explicit-default']],
  [['e_cert_sig_alg_not_match_tbs_sig_alg'], ['x509.signature.algorithm-mismatch']],
  [
    ['e_spki_rsa_encryption_parameter_not_null', 'e_tbs_signature_rsa_encryption_parameter_not_null'],
    ['x509.algorithm.rsa-params-not-null'],
  ],
  [['e_ext_cannot_be_empty_sequence'], ['x509.extension.empty-list', 'x509.san.empty']],
  [['e_validity_time_not_positive'], ['x509.validity.not-positive']],
  [['e_wrong_time_format_pre2050'], ['x509.validity.wrong-time-type']],
  [
    [
      'e_utc_time_does_not_include_seconds',
      'e_utc_time_not_in_zulu',
      'e_generalized_time_does_not_include_seconds',
      'e_generalized_time_includes_fraction_seconds',
      'e_generalized_time_not_in_zulu',
    ],
    ['x509.validity.malformed-time'],
  ],
  [['e_basic_constraints_not_critical'], ['x509.ca.basic-constraints-not-critical']],
  [['e_ca_subject_field_empty'], ['x509.ca.subject-empty']],
  [['e_ext_key_usage_cert_sign_without_ca'], ['x509.ca.keycertsign-without-ca']],
  [['e_ext_key_usage_without_bits'], ['x509.key-usage.empty']],
  [['e_path_len_constraint_improperly_included'], ['x509.ca.pathlen-on-non-ca', 'x509.ca.pathlen-without-keycertsign']],
  [['e_ext_subject_key_identifier_missing_ca'], ['x509.ca.ski-missing']],
  [['w_ext_subject_key_identifier_missing_sub_cert'], ['x509.leaf.ski-missing']],
  [['e_ext_subject_key_identifier_critical'], ['x509.ski.critical']],
  [['e_ext_authority_key_identifier_critical'], ['x509.aki.critical']],
  [['e_ext_authority_key_identifier_no_key_identifier'], ['x509.aki.missing-key-id']],
  [['w_ext_key_usage_not_critical'], ['x509.key-usage.not-critical', 'x509.ca.key-usage-not-critical']],
  [
    ['e_superfluous_ku_encoding', 'e_incorrect_ku_encoding', 'e_key_usage_incorrect_length'],
    ['x509.key-usage.not-der', 'x509.key-usage.empty'],
  ],
  [['e_ecdsa_allowed_ku'], ['x509.key-usage.key-encipherment-non-rsa']],
  [['e_rsa_allowed_ku_no_encipherment_ca'], ['x509.ca.rsa-key-encipherment']],
  [['e_ext_name_constraints_not_in_ca'], ['x509.name-constraints.on-non-ca']],
  [['e_ext_name_constraints_not_critical'], ['x509.name-constraints.not-critical']],
  [['e_name_constraint_empty'], ['x509.name-constraints.empty']],
  [['e_name_constraint_minimum_non_zero', 'e_name_constraint_maximum_not_absent'], ['x509.name-constraints.min-max']],
  [['e_issuer_field_empty'], ['x509.issuer.empty']],
  [['e_subject_empty_without_san', 'e_ext_san_not_critical_without_subject'], ['x509.subject.empty-without-critical-san']],
  [
    [
      'e_subject_common_name_max_length',
      'e_subject_organization_name_max_length',
      'e_subject_organizational_unit_name_max_length',
      'e_subject_locality_name_max_length',
      'e_subject_state_name_max_length',
      'e_subject_street_address_max_length',
      'e_subject_postal_code_max_length',
      'e_subject_dn_serial_number_max_length',
      'e_subject_email_max_length',
      'e_subject_given_name_max_length',
      'e_subject_surname_max_length',
    ],
    ['x509.subject.attribute-too-long'],
  ],
  [['e_subject_dn_not_printable_characters'], ['x509.subject.control-character']],
  [['e_ext_san_no_entries'], ['x509.san.empty']],
  [['e_ext_san_empty_name', 'e_ext_san_space_dns_name'], ['x509.san.empty-entry']],
  [['e_ext_san_dns_name_too_long', 'e_rfc_dnsname_label_too_long'], ['x509.san.dns-too-long']],
  [['e_san_dns_name_includes_null_char'], ['x509.san.dns-nul']],
  [['e_san_wildcard_not_first'], ['x509.san.wildcard-not-leftmost']],
  [['n_san_dns_name_duplicate'], ['x509.san.duplicate']],
  [['e_ext_san_uri_relative', 'e_ext_san_uri_format_invalid'], ['x509.san.uri-invalid']],
  [['e_ext_san_rfc822_format_invalid'], ['x509.san.email-invalid']],
  [['e_rfc_dnsname_underscore_in_sld', 'w_rfc_dnsname_underscore_in_trd'], ['x509.san.dns-underscore']],
  [['e_rsa_fermat_factorization'], ['x509.key.rsa-fermat-factorable']],
  [['w_rsa_mod_factors_smaller_than_752'], ['x509.key.rsa-small-factor', 'x509.key.rsa-even-modulus']],
  [['w_rsa_mod_not_odd'], ['x509.key.rsa-even-modulus']],
  [['e_rsa_public_exponent_not_odd'], ['x509.key.rsa-bad-exponent']],
  [['e_rsa_mod_less_than_2048_bits'], ['x509.key.rsa-too-small']],
];

/** zlint lint name -> Anchorage counterparts. */
export const ZLINT_COUNTERPARTS: Readonly<Record<string, readonly string[]>> = Object.fromEntries(
  ZLINT_GROUPS.flatMap(([zs, ids]) => zs.map((z) => [z, ids] as const)),
);
