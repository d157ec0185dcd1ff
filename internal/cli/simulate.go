package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"

	"github.com/spf13/cobra"

	"iotwatch/internal/simulate"
)

// newSimulateCmd runs an emulated IoT fleet on loopback until interrupted.
func newSimulateCmd(g *globals) *cobra.Command {
	var (
		prefix   string
		opts     simulate.Options
		truth    string
		profiles string
		fwDir    string
	)
	cmd := &cobra.Command{
		Use:   "simulate",
		Short: "Run a fleet of emulated IoT devices on loopback addresses",
		Example: `  iotwatch simulate --devices 50 --truth truth.json
  iotwatch simulate --devices 500 --day 2 --truth day2.json   # the same fleet two days on: some units updated
  iotwatch simulate --devices 500 --firmware fw/              # and the firmware image of each product, as make demo analyses`,
		Long: `simulate starts emulated IoT devices (cameras, DVRs, routers, plugs, printers, NAS,
thermostats, industrial gateways), one loopback address each, serving telnet, SSH, HTTP,
FTP, MQTT, RTSP, SNMP, SSDP/UPnP, CoAP and Modbus/TCP with realistic banners and
credentials, until interrupted. Without root it uses the high-port map
(telnet 2323, ssh 2222, http 8080, ftp 2121, rtsp 8554, snmp 1161/udp, ssdp 1900/udp,
coap 5683/udp, modbus 5020, mqtt 1883; dns 1053/udp for --profiles that serve DNS).
--day N starts the fleet as it is on its Nth simulated day (0 is the first): a profile's
firmware updates are released on later days and installed by a growing share of its units,
the same units for the same --seed; the truth names each unit's firmware that day and the
whole schedule.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := netip.ParsePrefix(prefix)
			if err != nil {
				return usageError{fmt.Errorf("--prefix: %w", err)}
			}
			opts.Prefix = p
			opts.Logger = g.log
			if opts.Devices <= 0 {
				return usageError{errors.New("--devices must be positive")}
			}
			if opts.Day < 0 {
				return usageError{errors.New("--day must not be negative")}
			}
			for name, v := range map[string]float64{"--weak": opts.Weak, "--empty": opts.Empty, "--anonymous": opts.Anonymous} {
				if v < 0 || v > 1 {
					return usageError{fmt.Errorf("%s must be within 0..1", name)}
				}
			}
			if opts.Weak+opts.Empty+opts.Anonymous > 1 {
				return usageError{errors.New("--weak + --empty + --anonymous must not exceed 1")}
			}
			ctx := cmd.Context() // cancelled by SIGINT/SIGTERM (main)
			var fleet *simulate.Fleet
			if profiles != "" {
				if _, err := os.ReadDir(profiles); err != nil {
					return fmt.Errorf("profiles: %w", err)
				}
				ps, err := simulate.LoadProfiles(os.DirFS(profiles))
				if err != nil {
					return fmt.Errorf("profiles %s: %w", profiles, err)
				}
				fleet, err = simulate.StartWithProfiles(ctx, opts, ps)
				if err != nil {
					return err
				}
			} else {
				var err error
				if fleet, err = simulate.Start(ctx, opts); err != nil {
					return err
				}
			}
			defer fleet.Close()
			t := fleet.Truth()
			if truth != "" {
				if err := simulate.WriteTruth(truth, t); err != nil {
					return err
				}
			}
			if fwDir != "" {
				imgs, err := fleet.WriteFirmware(fwDir)
				if err != nil {
					return err
				}
				g.log.Info("simulate: firmware images written", "dir", fwDir, "images", len(imgs))
			}
			if g.json {
				if err := json.NewEncoder(g.out).Encode(map[string]any{
					"prefix": opts.Prefix.String(), "seed": opts.Seed, "tcp_ports": fleet.TCPPorts(),
					"udp_ports": fleet.UDPPorts(), "high_ports": fleet.HighPortMap(), "summary": t.Summary,
				}); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(g.out, "simulating %d devices on %s (tcp ports %v, udp ports %v); %d with weak credentials (share %.3f); Ctrl-C to stop\n",
					t.Summary.Devices, opts.Prefix, fleet.TCPPorts(), fleet.UDPPorts(),
					t.Summary.DevicesWithWeakCredentials, t.Summary.WeakPasswordShare)
			}
			<-ctx.Done()
			g.log.Info("simulate: stopping")
			return fleet.Close()
		},
	}
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", simulate.DefaultPrefix.String(), "loopback prefix, one address per device")
	f.IntVar(&opts.Devices, "devices", 100, "number of devices")
	f.Int64Var(&opts.Seed, "seed", 1, "random seed: same seed, same fleet and truth")
	f.Float64Var(&opts.Weak, "weak", 0.3, "share of devices with a vendor default credential")
	f.Float64Var(&opts.Empty, "empty", 0.05, "share of devices with an empty password")
	f.Float64Var(&opts.Anonymous, "anonymous", 0.05, "share of devices with anonymous MQTT/FTP access")
	f.IntVar(&opts.Day, "day", 0, "simulated day to start the fleet on (0: the first); units install firmware updates as days pass")
	f.StringVar(&truth, "truth", "", "write the ground truth (JSON) to this file")
	f.StringVar(&fwDir, "firmware", "", "write a firmware image of each product of the fleet into this directory (the images make demo analyses)")
	f.BoolVar(&opts.HighPorts, "high-ports", false, "use the high-port map even as root")
	f.StringVar(&profiles, "profiles", "", "directory of device profile YAML files to use instead of the built-in ones")
	return cmd
}
