package cli

import (
	"context"
	"fmt"
	"net/netip"

	"iotwatch/internal/stage"
)

// matchStored runs the vulnerability stage over the stored inventory
// (`vulndb match --stored`) and prints the matches per device and port.
func matchStored(ctx context.Context, g *globals) error {
	st, err := g.openStore(ctx)
	if err != nil {
		return err
	}
	defer st.Close()
	run, res, err := stage.VulnsOfInventory(ctx, st)
	if err != nil {
		return err
	}
	if g.json {
		return printJSONLines(g.out, res.Matches)
	}
	tw := newTable(g.out)
	fmt.Fprintln(tw, "DEVICE\tCVE\tCVSS\tSEVERITY\tKEV\tCPE")
	for _, m := range res.Matches {
		kev := "-"
		if m.KEV {
			kev = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.1f\t%s\t%s\t%s\n", netip.AddrPortFrom(m.IP, m.Port), m.CVE, m.CVSS, m.Severity, kev, m.CPE)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(g.errOut, "%d matches on %d devices (%d known exploited) from %d identified services (%s)\n",
		len(res.Matches), res.Devices, res.KEV, run.Counts["services"], run)
	return nil
}
