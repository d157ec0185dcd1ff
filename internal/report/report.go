// Package report turns the evidence in the store into the quantitative threat
// assessment a national CERT publishes: headline numbers (vulnerabilities
// archived and their growth, devices with weak credentials with a 95% Wilson
// interval, devices under unauthorized control per day, vulnerable and
// KEV-affected devices, conformance per provision), breakdowns by vendor,
// device type, protocol, subnet and region, and trends across runs. One Report
// renders as self-contained HTML with inline SVG charts, Markdown, JSON and CSV;
// every renderer prints the same numbers.
//
// Evidence from stages that live in other packages (vulnerability database
// statistics, flow detection, assessment) arrives through optional provider
// functions in Inputs. A section whose evidence is absent says so; it never
// shows invented numbers.
package report

import (
	"context"
	"net/netip"
	"time"

	"iotwatch/internal/model"
	"iotwatch/internal/stats"
)

// Inputs selects the runs a report covers and supplies the optional providers.
type Inputs struct {
	// RunIDs are the runs to cover. Empty: the runs started within [From, To]
	// when either is set, else the newest run with stored services and every
	// run after it (see ResolveRuns).
	RunIDs   []int64
	From, To time.Time

	// Title heads the report; empty gives a default.
	Title string
	// Now is the clock for the generation time; nil means time.Now.
	Now func() time.Time
	// ShowSecrets prints found passwords raw instead of redacted.
	ShowSecrets bool
	// TrendRuns bounds how many runs the trend section covers (default 20).
	TrendRuns int

	// VulnStats returns vulnerability-database statistics (wire to vuln.DB.Stats).
	VulnStats func(context.Context) (VulnStats, error)
	// DailyCompromised returns devices under unauthorized remote control per
	// day (wire to flow.DailyCompromised).
	DailyCompromised func(context.Context) ([]DayCount, error)
	// Destinations returns the outbound traffic of every device in the flow
	// telemetry per destination country and network owner (wire to
	// flow.Destinations).
	Destinations func(context.Context) ([]DestinationRow, error)
	// Alerts returns the stored flow alerts (wire to flow.Alerts): the
	// insight sections join them with the sample's evidence.
	Alerts func(context.Context) ([]AlertRow, error)
	// Assessment returns per-provision outcome counts and label tallies (wire to assess).
	Assessment func(context.Context) (AssessmentSummary, error)
	// Region maps a device address to a region or country (wire to geo); nil
	// leaves the region breakdown out.
	Region func(netip.Addr) string
}

// VulnStats is what the vulnerability database knows about the archive.
type VulnStats struct {
	Source string      `json:"source,omitempty"` // e.g. "NVD API 2.0 feeds, CISA KEV 2026-11-20"
	ByYear []YearStats `json:"by_year"`
}

// YearStats counts vulnerabilities published in one year.
type YearStats struct {
	Year  int `json:"year"`
	Total int `json:"total"`
	IoT   int `json:"iot"` // those affecting IoT products
	KEV   int `json:"kev"` // those in CISA's Known Exploited Vulnerabilities catalogue
}

// DayCount is the number of devices seen under unauthorized remote control on one day.
type DayCount struct {
	Day     string `json:"day"` // YYYY-MM-DD
	Devices int    `json:"devices"`
}

// AssessmentSummary is what the assessment stage concluded over the devices.
type AssessmentSummary struct {
	Devices    int                 `json:"devices"`
	Provisions []ProvisionOutcomes `json:"provisions"`
	Labels     []Count             `json:"labels,omitempty"` // e.g. "default password: none found" → devices
	// Contradictions are the makers' declared claims observation showed
	// false, each of which lowered its subject's tier one step.
	Contradictions []Contradiction `json:"contradictions,omitempty"`
}

// Contradiction is a declared claim observed evidence contradicts: what the
// declaration (a file) said in Field, what was observed from Source
// (audit, firmware, flows, rescans), the evidence, and the subject's tier
// after lowering.
type Contradiction struct {
	Subject     string   `json:"subject"`
	Declaration string   `json:"declaration"`
	Claim       string   `json:"claim"`
	Field       string   `json:"field"`
	Declared    string   `json:"declared"`
	Source      string   `json:"source"`
	Observed    string   `json:"observed"`
	Evidence    []string `json:"evidence"`
	Tier        string   `json:"tier"`
}

// ProvisionOutcomes counts devices per outcome of one baseline provision.
type ProvisionOutcomes struct {
	Baseline      string `json:"baseline"`
	ID            string `json:"id"`
	Title         string `json:"title,omitempty"`
	Mandatory     bool   `json:"mandatory,omitempty"`
	Pass          int    `json:"pass"`
	Fail          int    `json:"fail"`
	NotApplicable int    `json:"not_applicable"`
	Unknown       int    `json:"unknown"`
}

// Report is the quantitative threat assessment built from stored evidence.
type Report struct {
	Title       string    `json:"title"`
	GeneratedAt time.Time `json:"generated_at"`
	Runs        []RunRef  `json:"runs"`
	// Summary holds the headline numbers.
	Summary Summary `json:"summary"`
	// Absent names each section without evidence and why.
	Absent map[string]string `json:"absent"`

	VulnArchive     *VulnArchive       `json:"vulnerability_archive,omitempty"`
	Compromise      *Compromise        `json:"compromise,omitempty"`
	Destinations    *Destinations      `json:"destinations,omitempty"`
	WeakCredentials WeakCredentials    `json:"weak_credentials"`
	Inventory       Inventory          `json:"inventory"`
	Vulnerabilities []VulnRow          `json:"vulnerabilities"`
	Firmware        *Firmware          `json:"firmware,omitempty"`
	Findings        FindingsSummary    `json:"findings"`
	Assessment      *AssessmentSection `json:"assessment,omitempty"`
	// Fall says what made the devices under unauthorized control reachable;
	// Risk ranks the matched vulnerabilities by the exploitation seen in
	// the fleet (see insight.go).
	Fall *Fall     `json:"fall,omitempty"`
	Risk []RiskRow `json:"risk,omitempty"`
	// SharedKeys are the keys several devices serve, or that firmware
	// images hold (see sharedkeys.go).
	SharedKeys *SharedKeys `json:"shared_keys,omitempty"`
	// Uptake is patch uptake per product across repeated scans.
	Uptake *Uptake      `json:"uptake,omitempty"`
	Trends []TrendPoint `json:"trends"`
	// Devices lists every sampled device with its evidence (JSON and CSV only).
	Devices     []DeviceRow       `json:"devices"`
	Method      map[string]string `json:"method"`
	showSecrets bool
}

// RunRef identifies a covered run.
type RunRef struct {
	ID        int64     `json:"id"`
	Kind      string    `json:"kind"`
	Status    string    `json:"status"`
	StartedAt time.Time `json:"started_at"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	Targets   []string  `json:"targets,omitempty"`
	// Parent is the run this one resumed: the two are one logical run.
	Parent int64 `json:"parent,omitempty"`
}

// Interval is a confidence interval on a proportion (stats.Wilson).
type Interval = stats.Interval

// Summary holds the headline numbers.
type Summary struct {
	// Devices is the number of distinct addresses with at least one open
	// service (status other than refused or timeout) in the covered runs.
	Devices int `json:"devices"`
	// Services is the number of distinct open services (address, port, transport).
	Services int `json:"services"`
	// DevicesWithWeakCredentials is the number of distinct addresses with at
	// least one credential result that is a weak credential
	// (model.CredentialResult.Weak: every kind but lockout-suspected).
	DevicesWithWeakCredentials int `json:"devices_with_weak_credentials"`
	// SampledDevices is the denominator of the share: devices plus any
	// address with a credential result but no stored open service.
	SampledDevices    int      `json:"sampled_devices"`
	WeakPasswordShare float64  `json:"weak_password_share"`
	WeakPasswordCI95  Interval `json:"weak_password_ci95"`
	CredentialResults int      `json:"credential_results"`
	// LockoutSuspected counts services where the audit suspected lockout or
	// rate limiting and backed off; their devices stay in the sample.
	LockoutSuspected int `json:"lockout_suspected_services"`
	// UnknownVerdicts counts services that also accepted a deliberately
	// wrong control credential (or answered it alike): what they accepted
	// proves nothing, so they count as not weak, with the evidence kept.
	UnknownVerdicts int `json:"unknown_verdict_services"`

	VulnerableDevices  int      `json:"vulnerable_devices"`
	VulnerableShare    float64  `json:"vulnerable_share"`
	VulnerableCI95     Interval `json:"vulnerable_ci95"`
	KEVDevices         int      `json:"kev_devices"`
	KEVShare           float64  `json:"kev_share"`
	KEVCI95            Interval `json:"kev_ci95"`
	VulnMatches        int      `json:"vuln_matches"`
	DistinctCVEs       int      `json:"distinct_cves"`
	Findings           int      `json:"findings"`
	FirmwareImages     int      `json:"firmware_images"`
	CompromisedPerDay  float64  `json:"compromised_per_day,omitempty"`
	CompromisedPeak    int      `json:"compromised_peak,omitempty"`
	ArchivedLatestYear int      `json:"archived_latest_year,omitempty"`
	ArchivedLatest     int      `json:"archived_latest,omitempty"`
	ArchivedGrowth     *float64 `json:"archived_growth,omitempty"` // relative to the year before
	IoTShareLatest     float64  `json:"iot_share_latest,omitempty"`
}

// Count is a key with a count of devices (and services where it applies).
type Count struct {
	Key      string `json:"key"`
	Devices  int    `json:"devices"`
	Services int    `json:"services,omitempty"`
}

// GroupShare is the share of sampled devices in one group that had weak
// credentials: the rows of stats.Summarize, the same numbers `audit
// --summary` and the API print.
type GroupShare = stats.Share

// WeakCredentials breaks the weak-credential share down.
type WeakCredentials struct {
	ByVendor     []GroupShare `json:"by_vendor"`
	ByDeviceType []GroupShare `json:"by_device_type"`
	ByProtocol   []GroupShare `json:"by_protocol"`
	BySubnet     []GroupShare `json:"by_subnet"`
	ByRegion     []GroupShare `json:"by_region,omitempty"`
	ByKind       []Count      `json:"by_kind"`
	TopPairs     []CredPair   `json:"top_pairs"`
	// Firmware counts what accounts proven by analysed firmware images
	// found; nil when none did.
	Firmware *FirmwareProven `json:"firmware_proven,omitempty"`
}

// FirmwareProven counts the weak credentials the audit found with an account
// a firmware image of the device's product proved (cracked or empty in its
// /etc/shadow): defaults proven from firmware rather than guessed from a
// list. Images gives, per image, the devices its accounts opened.
type FirmwareProven struct {
	Credentials int     `json:"credentials"`
	Devices     int     `json:"devices"`
	Images      []Count `json:"images"`
}

// CredPair is a username/password pair that opened devices; Password is
// redacted unless the report was built with ShowSecrets.
type CredPair struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Devices  int    `json:"devices"`
}

// Inventory counts what was seen.
type Inventory struct {
	ByProtocol   []Count `json:"by_protocol"`
	ByVendor     []Count `json:"by_vendor"`
	ByDeviceType []Count `json:"by_device_type"`
	ByProduct    []Count `json:"by_product"`
	BySubnet     []Count `json:"by_subnet"`
}

// VulnRow is one vulnerability found on devices.
type VulnRow struct {
	CVE      string   `json:"cve"`
	CVSS     float64  `json:"cvss"`
	Severity string   `json:"severity"`
	KEV      bool     `json:"kev"`
	EPSS     float64  `json:"epss,omitempty"` // highest EPSS score among the matches
	Devices  int      `json:"devices"`
	Products []string `json:"products"`
	Summary  string   `json:"summary,omitempty"`
}

// Firmware summarises firmware analysis evidence.
type Firmware struct {
	Images        int          `json:"images"`
	ComponentCVEs int          `json:"component_cves"`
	ByKind        []Count      `json:"by_kind"` // Devices counts images here
	Findings      []FindingRow `json:"findings"`
}

// FindingRow is one finding as listed in the report.
type FindingRow struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Subject  string `json:"subject"`
	Title    string `json:"title"`
}

// FindingsSummary counts all findings of the covered runs.
type FindingsSummary struct {
	Total      int     `json:"total"`
	BySeverity []Count `json:"by_severity"` // Devices counts findings here
	ByKind     []Count `json:"by_kind"`     // Devices counts findings here
	// Top groups findings by title, most severe and most widespread first.
	Top []FindingGroup `json:"top"`
}

// FindingGroup is one finding title and how many subjects have it.
type FindingGroup struct {
	Title    string `json:"title"`
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	Subjects int    `json:"subjects"`
}

// AssessmentSection is the assessment summary with conformance rates.
type AssessmentSection struct {
	Devices    int             `json:"devices"`
	Provisions []ProvisionRate `json:"provisions"`
	Labels     []Count         `json:"labels,omitempty"`
	// Contradictions: see AssessmentSummary.
	Contradictions []Contradiction `json:"contradictions,omitempty"`
}

// ProvisionRate is a provision's outcomes and conformance rate: pass / (pass + fail).
type ProvisionRate struct {
	ProvisionOutcomes
	Rate float64  `json:"conformance_rate"`
	CI95 Interval `json:"ci95"`
}

// VulnArchive is the vulnerability archive by year with growth.
type VulnArchive struct {
	Source string    `json:"source,omitempty"`
	Total  int       `json:"total"`
	IoT    int       `json:"iot"`
	KEV    int       `json:"kev"`
	Years  []YearRow `json:"years"`
}

// YearRow is one year of the archive with growth over the previous year.
type YearRow struct {
	YearStats
	Growth    *float64 `json:"growth"`            // (total - previous) / previous; null without the previous year
	IoTShare  float64  `json:"iot_share"`         // iot / total
	IoTGrowth *float64 `json:"iot_growth"`        // (iot - previous iot) / previous iot; null without it
	Partial   bool     `json:"partial,omitempty"` // the year is not over at generation time
}

// DestinationRow is one device's outbound traffic to one destination
// country and network owner, as flow telemetry attributed it.
type DestinationRow struct {
	Device    netip.Addr
	Country   string // ISO code; empty when unknown or local
	ASN       uint32
	Owner     string
	Bytes     int64
	CountryDB string // database and version that placed the peers
	OwnerDB   string
}

// Destinations is where the devices' data goes: the bytes devices sent or
// initiated, by destination country and network owner.
type Destinations struct {
	Devices   int         `json:"devices"`
	Bytes     int64       `json:"bytes"`
	Databases []string    `json:"databases"`
	ByCountry []DestShare `json:"by_country"`
	ByOwner   []DestShare `json:"by_owner,omitempty"`
}

// DestShare is one destination's part of the bytes and the devices that
// sent data there.
type DestShare struct {
	Key     string  `json:"key"`
	Devices int     `json:"devices"`
	Bytes   int64   `json:"bytes"`
	Share   float64 `json:"share"` // of all bytes
}

// Compromise is devices under unauthorized remote control per day.
type Compromise struct {
	Days    []DayCount `json:"days"`
	Mean    float64    `json:"mean_per_day"`
	Peak    int        `json:"peak"`
	PeakDay string     `json:"peak_day"`
}

// TrendPoint is one run's headline numbers, for trends across runs.
type TrendPoint struct {
	RunID       int64     `json:"run_id"`
	Kind        string    `json:"kind"`
	StartedAt   time.Time `json:"started_at"`
	Devices     int       `json:"devices"`
	Services    int       `json:"services"`
	WeakDevices int       `json:"weak_devices"`
	// WeakPasswordShare is absent for a run without a credential audit
	// (a rescan): no audit measures no share, not a share of zero.
	WeakPasswordShare *float64 `json:"weak_password_share,omitempty"`
}

// secret returns s redacted unless the report shows secrets.
func (r *Report) secret(s string) string {
	if r.showSecrets {
		return s
	}
	return model.Redact(s)
}
