package store

import (
	"context"
	"fmt"

	"iotwatch/internal/model"
)

// IdentifiedServices returns the stored inventory of identified services:
// for every endpoint (address, port, transport) with a fingerprint, the
// record of the newest run that identified it, ordered by address and port.
func (s *Store) IdentifiedServices(ctx context.Context) ([]model.Service, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+serviceCols+` FROM services s WHERE s.fingerprint <> ''
AND s.run_id = (SELECT MAX(n.run_id) FROM services n WHERE n.ip = s.ip AND n.port = s.port AND n.transport = s.transport AND n.fingerprint <> '')
ORDER BY ip, port, transport`)
	if err != nil {
		return nil, fmt.Errorf("read identified services: %w", err)
	}
	return s.scanServices(rows)
}
