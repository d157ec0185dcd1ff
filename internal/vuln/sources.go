package vuln

// Sources beyond NVD and KEV that Update knows by name: they are fetched
// when named (vulndb update --source epss), and any of them can be
// imported from a downloaded file instead (vulndb import FILE).
const (
	SourceEPSS      = "epss"
	SourceOSVDebian = "osv-debian"
	SourceOSVUbuntu = "osv-ubuntu"
	SourceOSVAlpine = "osv-alpine"
	SourceJVN       = "jvn"
	SourceEUVD      = "euvd"
)

// KnownSources maps the names of the sources Update knows to their
// official endpoints.
var KnownSources = map[string]string{
	SourceNVD:       "https://services.nvd.nist.gov/rest/json/cves/2.0",
	SourceKEV:       "https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json",
	SourceEPSS:      "https://epss.empiricalsecurity.com/epss_scores-current.csv.gz",
	SourceOSVDebian: "https://osv-vulnerabilities.storage.googleapis.com/Debian/all.zip",
	SourceOSVUbuntu: "https://osv-vulnerabilities.storage.googleapis.com/Ubuntu/all.zip",
	SourceOSVAlpine: "https://osv-vulnerabilities.storage.googleapis.com/Alpine/all.zip",
	// JVN iPedia through MyJVN: the overview list of recent records
	// (RSS 1.0 with mod_sec); older years are imported from files.
	SourceJVN: "https://jvndb.jvn.jp/myjvn?method=getVulnOverviewList&feed=hnd&lang=en&rangeDatePublished=m",
	// ENISA's EUVD API: the latest records (a search page).
	SourceEUVD: "https://euvdservices.enisa.europa.eu/api/search?size=100",
	// CNVD publishes its shared XML to registered members only: import the
	// downloaded files (vulndb import DIR).
}
