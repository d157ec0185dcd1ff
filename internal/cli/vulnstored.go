package cli

import (
	"context"
	"fmt"
	"net/netip"

	"iotwatch/internal/stage"
)

// matchStored is `vulndb match --stored`: the re-match of the stored
// inventory (stage.Rematch, the same run `vulndb rematch` records), printed
// as the run's matches per device and port; what changed goes to stderr.
func matchStored(ctx context.Context, g *globals) error {
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	res, err := stage.Rematch(ctx, st, stage.RematchOptions{})
	if err != nil {
		return err
	}
	ms, err := st.VulnMatches(ctx, res.Run)
	if err != nil {
		return err
	}
	if g.json {
		err = printJSONLines(g.out, ms)
	} else {
		tw := newTable(g.out)
		fmt.Fprintln(tw, "DEVICE\tCVE\tCVSS\tSEVERITY\tKEV\tCPE")
		for _, m := range ms {
			kev := "-"
			if m.KEV {
				kev = "yes"
			}
			subject := m.Subject
			if m.IP.IsValid() {
				subject = netip.AddrPortFrom(m.IP, m.Port).String()
			}
			fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\n", subject, m.CVE, m.CVSS, m.Severity, kev, m.CPE)
		}
		err = tw.Flush()
	}
	if err != nil {
		return err
	}
	writeRematch(g.errOut, res)
	return nil
}
