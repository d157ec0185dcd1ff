package fingerprint

import (
	_ "embed"
	"fmt"
	"regexp"

	"gopkg.in/yaml.v3"

	"iotwatch/internal/model"
)

//go:embed devicetypes.yaml
var builtinDeviceTypes []byte

// deviceType is one product line whose kind of device is known.
type deviceType struct {
	vendor, product *regexp.Regexp
	typ             string
}

// parseDeviceTypes compiles the device-type table.
func parseDeviceTypes(b []byte) ([]deviceType, error) {
	var raw []struct {
		Vendor     string `yaml:"vendor"`
		Product    string `yaml:"product"`
		DeviceType string `yaml:"device_type"`
	}
	if err := yaml.Unmarshal(b, &raw); err != nil {
		return nil, fmt.Errorf("device types: %w", err)
	}
	out := make([]deviceType, 0, len(raw))
	for i, r := range raw {
		if r.Vendor == "" || r.Product == "" || model.GenericDeviceType(r.DeviceType) || !model.KnownDeviceType(r.DeviceType) {
			return nil, fmt.Errorf("device type %d: needs vendor, product and a specific device_type of model's list (got %q)", i, r.DeviceType)
		}
		v, err := regexp.Compile("(?i)" + r.Vendor)
		if err != nil {
			return nil, fmt.Errorf("device type %d vendor: %w", i, err)
		}
		p, err := regexp.Compile("(?i)" + r.Product)
		if err != nil {
			return nil, fmt.Errorf("device type %d product: %w", i, err)
		}
		out = append(out, deviceType{v, p, r.DeviceType})
	}
	return out, nil
}

// typeOf returns the device type of a known product line, or "".
func typeOf(table []deviceType, vendor, product string) string {
	if vendor == "" || product == "" {
		return ""
	}
	for _, t := range table {
		if t.vendor.MatchString(vendor) && t.product.MatchString(product) {
			return t.typ
		}
	}
	return ""
}
