package vuln

import (
	"strings"

	"iotwatch/internal/vuln/cpe"
	"iotwatch/internal/vuln/feed"
)

// ClassifyIoT decides whether a CVE concerns IoT or embedded devices, and
// says why. The rule, first match wins:
//
//  1. device CPE: a criterion (vulnerable or platform) of part "h" or "o"
//     whose vendor is a device maker (deviceVendors: cameras, routers,
//     NAS, PLCs, smart home);
//  2. firmware CPE: a criterion of part "o" whose product ends in
//     "_firmware" (NVD's naming for device firmware), unless the vendor
//     makes data-centre and enterprise infrastructure (infraVendors: NetApp
//     storage, server BMCs, CPUs), whose firmware is not IoT;
//  3. embedded stack: a vulnerable criterion whose product is an embedded
//     software stack (embeddedStacks: BusyBox, dnsmasq, Dropbear, uClibc,
//     lwIP, RTOSes, MQTT/CoAP stacks, embedded web servers, vendor SDKs);
//  4. keywords, as a last resort and only for records without any CPE
//     criteria (not yet analysed by NVD): the description names a device
//     class (router, IP camera, DVR, PLC, firmware, IoT, ...) or, as a
//     word, an embedded stack (Mosquitto, BusyBox, dnsmasq, ...).
//
// Everything else (general-purpose software, operating systems, services
// such as OpenSSH or curl) is not IoT.
func ClassifyIoT(r *feed.Record) (bool, string) {
	return classify(r, parseCriteria(r))
}

// parsedCriterion is a record's criterion, parsed once for classification and indexing.
type parsedCriterion struct {
	name       cpe.Name
	ok         bool
	vulnerable bool
}

func parseCriteria(r *feed.Record) []parsedCriterion {
	var out []parsedCriterion
	for _, c := range r.Configs {
		for _, n := range c.Nodes {
			for _, m := range n.Matches {
				name, err := cpe.Parse(m.Criteria)
				out = append(out, parsedCriterion{name: name, ok: err == nil, vulnerable: m.Vulnerable})
			}
		}
	}
	return out
}

func classify(r *feed.Record, names []parsedCriterion) (bool, string) {
	criteria := 0
	var firmware, stack string
	for _, pc := range names {
		if !pc.ok {
			continue
		}
		name := pc.name
		criteria++
		part, vendor, product := name[cpe.Part].Raw, name[cpe.Vendor].Lit, name[cpe.Product].Lit
		if (part == "h" || part == "o") && deviceVendors[vendor] {
			return true, "device CPE " + vendor + ":" + product
		}
		if firmware == "" && part == "o" && strings.HasSuffix(product, "_firmware") && !infraVendors[vendor] {
			firmware = "firmware CPE " + vendor + ":" + product
		}
		if stack == "" && pc.vulnerable && embeddedStacks[product] {
			stack = "embedded stack " + product
		}
	}
	if firmware != "" {
		return true, firmware
	}
	if stack != "" {
		return true, stack
	}
	if criteria > 0 {
		return false, ""
	}
	d := " " + strings.ToLower(r.Description) + " "
	for _, k := range iotKeywords {
		if strings.Contains(d, k) {
			return true, "keyword " + strings.TrimSpace(k)
		}
	}
	for _, w := range strings.FieldsFunc(d, func(c rune) bool { return c == ' ' || c == ',' || c == '(' || c == ')' || c == ';' }) {
		if embeddedStacks[strings.TrimRight(w, ".:")] {
			return true, "keyword " + strings.TrimRight(w, ".:")
		}
	}
	return false, ""
}

// deviceVendors are NVD vendor names of makers of IoT and embedded devices.
var deviceVendors = setOf(
	// cameras, recorders
	"hikvision", "dahuasecurity", "axis", "foscam", "reolink", "amcrest", "uniview", "xiongmai", "avtech",
	"geovision", "vivotek", "mobotix", "hanwhavision", "hanwha_techwin", "milesight", "wyze", "tvt", "lilin",
	// routers, access points, modems, gateways
	"dlink", "tp-link", "netgear", "zyxel", "tenda", "linksys", "belkin", "asus", "huawei", "dasannetworks",
	"mikrotik", "ui", "totolink", "draytek", "trendnet", "edimax", "ruijie", "wavlink", "comfast", "zte",
	"fiberhome", "netis-systems", "buffalo", "tenda", "cambiumnetworks", "teltonika", "sierrawireless",
	"digi", "gl-inet", "openwrt", "realtek", "actiontec", "arris", "technicolor", "sagemcom", "avm",
	// NAS
	"synology", "qnap", "western_digital", "wdc", "seagate", "terramaster", "asustor",
	// industrial and building automation
	"siemens", "schneider-electric", "rockwellautomation", "moxa", "advantech", "phoenixcontact", "wago",
	"abb", "honeywell", "yokogawa", "mitsubishielectric", "omron", "delta_electronics", "beckhoff",
	"johnsoncontrols", "tridium",
	// smart home, consumer devices, chips
	"philips", "xiaomi", "tuya", "espressif", "nordicsemi", "silabs", "sonos", "ring", "google_nest",
	"amazon_ring", "tplink_kasa", "eufy", "anker", "ezviz", "yi_technology", "tuyasmart",
)

// infraVendors make servers, storage, CPUs and enterprise network gear;
// their "_firmware" CPEs do not make a CVE IoT.
var infraVendors = setOf(
	"netapp", "intel", "amd", "dell", "hp", "hpe", "lenovo", "ibm", "oracle", "supermicro", "fujitsu",
	"nvidia", "arm", "juniper", "paloaltonetworks", "fortinet", "f5", "citrix",
	"vmware", "emc",
)

// embeddedStacks are NVD product names of software built into devices.
var embeddedStacks = setOf(
	"busybox", "dnsmasq", "dropbear_ssh", "uclibc", "uclibc-ng", "lwip", "contiki", "contiki-ng",
	"zephyr", "freertos", "riot", "mbed_os", "threadx", "azure_rtos_threadx", "nucleus_rtos", "nucleus_net",
	"vxworks", "nuttx", "rt-thread", "treck_tcp/ip", "mosquitto", "libcoap", "paho_mqtt",
	"u-boot", "boa", "goahead", "mini_httpd", "uhttpd", "miniupnpd", "libupnp", "pupnp", "rompager",
	"rtl819x_jungle_software_development_kit", "realtek_sdk", "esp-idf", "openwrt", "dd-wrt", "mongoose",
	"embedded_web_server", "tcp/ip_stack", "gsoap", "ecos", "linux_for_tegra",
)

// iotKeywords name device classes in descriptions (padded to word edges).
var iotKeywords = []string{
	" router", " ip camera", " camera", " dvr ", " nvr ", " firmware", " iot ", " internet of things",
	" smart home", " plc ", " programmable logic controller", " embedded device", " access point",
	" modem", " set-top", " thermostat", " smart plug", " baby monitor", " gateway device", " webcam",
	" network video recorder", " scada", " hmi ", " industrial control",
}

func setOf(xs ...string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}
