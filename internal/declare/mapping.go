package declare

// FieldMapping says which provisions a declaration field helps decide and
// which US Cyber Trust Mark (FCC IoT Labeling Program) registry field it
// fills. The registry field names follow our reading of FCC 24-26 (the
// Report and Order establishing the program); they are descriptive, not the
// registry's wire format.
type FieldMapping struct {
	Field      string   `json:"field"`      // JSON pointer into the declaration
	Provisions []string `json:"provisions"` // EN 303 645 ids (V2.1.1, plus V3 6-6..6-8)
	Other      []string `json:"other"`      // PSTI, CRA, NISTIR 8259A and norm ids
	TrustMark  string   `json:"trust_mark"` // registry field, "" if none
}

// Mappings returns the field mapping table, in schema order.
func Mappings() []FieldMapping {
	return []FieldMapping{
		{"/product/model", []string{"5.3-16"}, []string{"nistir-8259a:device-identification"}, "product name and model number"},
		{"/product/model_label_location", []string{"5.3-16"}, nil, ""},
		{"/product/firmware_version", nil, []string{"nistir-8259a:device-identification"}, "software/firmware version"},
		{"/product/constrained", []string{"5.3-2", "5.3-14", "5.3-15", "5.1-5"}, nil, ""},
		{"/manufacturer", nil, []string{"norm:foreign-affiliation"}, "manufacturer name and contact"},
		{"/parent_company", nil, []string{"norm:foreign-affiliation"}, ""},
		{"/support/end_date", []string{"5.3-13", "5.3-14"}, []string{"psti-3", "norm:updatable"}, "minimum support period (end date)"},
		{"/support/policy_url", []string{"5.3-13"}, []string{"psti-3"}, "support period policy"},
		{"/updates/mechanism", []string{"5.3-1", "5.3-2", "5.3-3"}, []string{"cra-I-2c", "nistir-8259a:software-update", "norm:updatable"}, "how software updates are delivered"},
		{"/updates/automatic", []string{"5.3-4"}, []string{"cra-I-2c"}, "whether security updates are automatic"},
		{"/updates/automatic_default_on", []string{"5.3-6"}, []string{"cra-I-2c"}, "whether security updates are automatic"},
		{"/updates/signed", []string{"5.3-7", "5.3-9", "5.3-10"}, []string{"cra-II-7", "nistir-8259a:software-update"}, ""},
		{"/updates/verified_on_device", []string{"5.3-9", "5.3-10"}, []string{"cra-II-7"}, ""},
		{"/updates/check_interval_days", []string{"5.3-5"}, nil, ""},
		{"/updates/notify_user", []string{"5.3-11", "5.3-12"}, []string{"cra-II-8"}, ""},
		{"/updates/security_updates_free", nil, []string{"cra-II-8"}, ""},
		{"/updates/policy_url", []string{"5.3-8"}, []string{"cra-II-2"}, "software update policy"},
		{"/vulnerability_disclosure/contact", []string{"5.2-1"}, []string{"psti-2", "cra-II-6"}, "vulnerability disclosure program contact"},
		{"/vulnerability_disclosure/security_txt_url", []string{"5.2-1"}, []string{"psti-2", "cra-II-6"}, "vulnerability disclosure program"},
		{"/vulnerability_disclosure/policy_url", []string{"5.2-1"}, []string{"psti-2", "cra-II-5"}, "vulnerability disclosure program"},
		{"/vulnerability_disclosure/response_days", []string{"5.2-2"}, []string{"cra-II-2"}, ""},
		{"/credentials/scheme", []string{"5.1-1"}, []string{"psti-1", "cra-I-2b", "norm:no-weak-default-passwords"}, "how to change the default password"},
		{"/credentials/generation", []string{"5.1-2"}, []string{"psti-1"}, ""},
		{"/credentials/change_instructions_url", []string{"5.1-4"}, nil, "how to change the default password"},
		{"/credentials/brute_force_protection", []string{"5.1-5"}, nil, ""},
		{"/sbom/url", nil, []string{"cra-II-1", "norm:sbom"}, "software bill of materials (where available)"},
		{"/sbom/suppliers", nil, []string{"norm:foreign-affiliation"}, "hardware bill of materials (where available)"},
		{"/mud_url", []string{"5.6-1"}, nil, ""},
		{"/mud_file", []string{"5.6-1"}, nil, ""},
		{"/heartbeats", []string{"6-1"}, []string{"norm:data-collection"}, ""},
		{"/sensors", []string{"5.8-3"}, nil, ""},
		{"/resilience/works_offline", []string{"5.9-1", "5.9-2"}, []string{"cra-I-2h", "norm:fail-safe"}, ""},
		{"/resilience/recovers_after_power_loss", []string{"5.9-2"}, []string{"norm:fail-safe"}, ""},
		{"/resilience/fail_safe", []string{"5.9-1"}, []string{"norm:fail-safe"}, ""},
		{"/data/collected", []string{"6-1", "6-4", "6-5"}, []string{"cra-I-2g", "norm:data-collection"}, "data collection and sharing practices"},
		{"/data/collected/*/retention_days", []string{"6-6", "6-8"}, []string{"norm:data-expiration"}, ""},
		{"/data/collected/*/deidentification", []string{"6-7"}, []string{"norm:de-identification"}, ""},
		{"/data/collected/*/consent", []string{"6-2"}, nil, ""},
		{"/data/recipients", []string{"6-1", "6-5"}, []string{"norm:data-collection", "norm:foreign-affiliation"}, "data collection and sharing practices"},
		{"/data/privacy_policy_url", []string{"6-1"}, nil, "privacy policy"},
		{"/data/deletion/on_device_reset", []string{"5.11-1"}, []string{"cra-I-2m"}, ""},
		{"/data/deletion/from_services", []string{"5.11-2"}, nil, ""},
		{"/data/deletion/instructions_url", []string{"5.11-3"}, nil, ""},
		{"/data/deletion/confirmation", []string{"5.11-4"}, nil, ""},
		{"/data/consent_withdrawal", []string{"6-3"}, nil, ""},
		{"/statements", []string{"4-1"}, nil, ""},
	}
}

// TrustMarkRecord is the subset of a Cyber Trust Mark registry entry a
// declaration can fill.
type TrustMarkRecord struct {
	ProductName         string `json:"product_name"`
	Model               string `json:"model"`
	Manufacturer        string `json:"manufacturer"`
	ManufacturerCountry string `json:"manufacturer_country"`
	SupportPeriodEnd    string `json:"support_period_end,omitempty"`
	AutomaticUpdates    *bool  `json:"automatic_updates,omitempty"`
	ChangeDefaultPasswd string `json:"how_to_change_default_password,omitempty"`
	VulnDisclosure      string `json:"vulnerability_disclosure,omitempty"`
	SBOM                string `json:"sbom,omitempty"`
	DataPracticesURL    string `json:"data_practices,omitempty"`
	FirmwareVersion     string `json:"software_version,omitempty"`
	MUDURL              string `json:"mud_url,omitempty"`
}

// TrustMark fills a registry record from the declaration.
func (d *Declaration) TrustMark() TrustMarkRecord {
	r := TrustMarkRecord{
		ProductName:         d.Product.Name,
		Model:               d.Product.Model,
		Manufacturer:        d.Manufacturer.Name,
		ManufacturerCountry: d.Manufacturer.Country,
		FirmwareVersion:     d.Product.FirmwareVersion,
		MUDURL:              d.MUDURL,
	}
	if d.Support != nil {
		r.SupportPeriodEnd = d.Support.EndDate
	}
	if d.Updates != nil {
		r.AutomaticUpdates = d.Updates.Automatic
	}
	if d.Credentials != nil {
		r.ChangeDefaultPasswd = d.Credentials.ChangeInstructionsURL
	}
	if v := d.Disclosure; v != nil {
		r.VulnDisclosure = firstNonEmpty(v.PolicyURL, v.SecurityTxtURL, v.Contact)
	}
	if d.SBOM != nil {
		r.SBOM = d.SBOM.URL
	}
	if d.Data != nil {
		r.DataPracticesURL = d.Data.PrivacyPolicyURL
	}
	return r
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// Destinations returns the countries and recipients (host names and company
// names) the declaration allows data to go to, in the shape the flow stage's
// declarations use (internal/flow/mud.Declaration Countries and Recipients).
func (d *Declaration) Destinations() (countries, recipients []string) {
	if d.Data == nil {
		return nil, nil
	}
	seen := map[string]bool{}
	add := func(list *[]string, s string) {
		if s != "" && !seen[s] {
			seen[s] = true
			*list = append(*list, s)
		}
	}
	for _, r := range d.Data.Recipients {
		add(&countries, r.Country)
		add(&recipients, r.Name)
		for _, h := range r.Hosts {
			add(&recipients, h)
		}
	}
	return countries, recipients
}
