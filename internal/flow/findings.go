package flow

import (
	"fmt"

	"iotwatch/internal/model"
)

// AlertFindings turns alerts into findings for the store: one finding per
// alert, subject the acting address, evidence the detector's reason.
func AlertFindings(alerts []Alert) []model.Finding {
	out := make([]model.Finding, 0, len(alerts))
	for _, a := range alerts {
		sev := model.SeverityHigh
		title := fmt.Sprintf("%s by %s", a.Detector, a.Device)
		if a.Inbound {
			sev = model.SeverityMedium
			title = fmt.Sprintf("inbound %s from %s", a.Detector, a.Device)
		}
		if a.Peer.IsValid() {
			title += " towards " + a.Peer.String()
		}
		detail := "device behaves like a botnet member; counted as under unauthorized control on " + a.Day()
		if a.Inbound {
			detail = "an outside host acted against a device; evidence of exposure, not of compromise"
		}
		out = append(out, model.Finding{
			Kind: a.Detector, Subject: a.Device.String(), Severity: sev, Title: title, Detail: detail, Time: a.Time,
			Evidence: []model.Evidence{{Source: "flows", Detail: a.Reason, Data: a}},
		})
	}
	return out
}
