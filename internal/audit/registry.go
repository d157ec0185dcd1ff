package audit

import (
	"fmt"

	"iotwatch/internal/login"
	"iotwatch/internal/login/cwmp"
	"iotwatch/internal/login/dvrip"
	"iotwatch/internal/login/ftp"
	loginhttp "iotwatch/internal/login/http"
	"iotwatch/internal/login/mqtt"
	"iotwatch/internal/login/onvif"
	"iotwatch/internal/login/rtsp"
	"iotwatch/internal/login/snmp"
	"iotwatch/internal/login/ssh"
	"iotwatch/internal/login/telnet"
	"iotwatch/internal/login/xmeye"
)

// Modules is the explicit list of login modules, one per protocol package.
// The protocols they claim are the protocol table's rows with Login
// (checked by TestModulesCoverTable).
func Modules() []login.Module {
	return []login.Module{
		telnet.Module{},
		ssh.Module{},
		loginhttp.Module{},
		ftp.Module{},
		mqtt.Module{},
		rtsp.Module{},
		snmp.Module{},
		cwmp.Module{},
		xmeye.Module{},
		dvrip.Module{},
		onvif.Module{},
	}
}

// registry maps protocol names to modules; a protocol claimed twice panics.
func registry(mods []login.Module) map[string]login.Module {
	m := map[string]login.Module{}
	for _, mod := range mods {
		for _, p := range mod.Protocols() {
			if _, dup := m[p]; dup {
				panic(fmt.Sprintf("audit: protocol %q registered twice", p))
			}
			m[p] = mod
		}
	}
	return m
}
