package flow

import (
	"encoding/json"
	"strconv"

	"iotwatch/internal/geo"
)

// jsonRow encodes one device's hourly roll-ups and relations as the JSON
// arrays of "hours" and "peers" that flow_devices rows held before 00048 (the
// encoder Save used until then), for the tests that check that such rows
// read as before and as their packed form does.
func jsonRow(hours []Hourly, rels []Relation, attrs []geo.Attribution) (string, string) {
	attr := func(i uint32) []byte {
		if int(i) >= len(attrs) {
			return []byte(`"",0,""`)
		}
		c, _ := json.Marshal(attrs[i].Country)
		o, _ := json.Marshal(attrs[i].Owner)
		b := append(c, ',')
		b = strconv.AppendUint(b, uint64(attrs[i].ASN), 10)
		b = append(b, ',')
		return append(b, o...)
	}
	hb := []byte{'['}
	for i := range hours {
		h := &hours[i]
		if len(hb) > 1 {
			hb = append(hb, ',')
		}
		hb = append(hb, '[')
		hb = strconv.AppendInt(hb, h.Hour, 10)
		hb = append(hb, ',')
		hb = strconv.AppendInt(hb, b2i(h.Outbound), 10)
		hb = append(hb, ',')
		hb = append(hb, attr(h.Attr)...)
		for _, v := range []uint64{h.Flows, h.Packets, h.Bytes} {
			hb = append(hb, ',')
			hb = strconv.AppendUint(hb, v, 10)
		}
		hb = append(hb, ']')
	}
	hb = append(hb, ']')
	pb := []byte{'['}
	for i := range rels {
		r := &rels[i]
		if len(pb) > 1 {
			pb = append(pb, ',')
		}
		pb = append(pb, '[', '"')
		pb = r.Peer.AppendTo(pb)
		pb = append(pb, '"', ',')
		pb = strconv.AppendUint(pb, uint64(r.Proto), 10)
		pb = append(pb, ',')
		pb = strconv.AppendUint(pb, uint64(r.Port), 10)
		pb = append(pb, ',')
		pb = strconv.AppendInt(pb, b2i(r.Outbound), 10)
		for _, v := range []uint64{r.Flows, r.Packets, r.Bytes} {
			pb = append(pb, ',')
			pb = strconv.AppendUint(pb, v, 10)
		}
		pb = append(pb, ',')
		pb = strconv.AppendInt(pb, r.First, 10)
		pb = append(pb, ',')
		pb = strconv.AppendInt(pb, r.Last, 10)
		pb = append(pb, ',')
		pb = append(pb, attr(r.Attr)...)
		pb = append(pb, ']')
	}
	pb = append(pb, ']')
	return string(hb), string(pb)
}
