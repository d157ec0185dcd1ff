package store

import (
	"context"
	"errors"
	"strings"
	"testing"

	"iotwatch/internal/model"
	"iotwatch/internal/secret"
)

// TestFirmwareAccounts stores proven firmware accounts sealed, reads them
// back raw with the key and as placeholders without it, and refuses to
// store them without a key.
func TestFirmwareAccounts(t *testing.T) {
	t.Setenv(secret.EnvKey, "")
	t.Setenv(secret.EnvKeyFile, "")
	ctx := context.Background()
	const pw = "Fw-pass-8817"
	for name, s := range openTests(t) {
		t.Run(name, func(t *testing.T) {
			run := &model.Run{Kind: "firmware"}
			if err := s.StartRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			in := []model.FirmwareAccount{
				{Image: "/fw/Acme CAM-1 1.0.bin", SHA256: "ab12", Username: "admin", Password: pw, File: "/etc/shadow", HashType: "md5crypt"},
				{Image: "/fw/Acme CAM-1 1.0.bin", SHA256: "ab12", Username: "guest", Empty: true, File: "/etc/shadow"},
			}
			for range 2 { // a re-run updates
				if err := s.SaveFirmwareAccounts(ctx, run.ID, in); err != nil {
					t.Fatal(err)
				}
			}
			var n int
			var leaks int
			if err := s.DB().QueryRowContext(ctx, `SELECT COUNT(*), SUM(CASE WHEN data LIKE '%`+pw+`%' THEN 1 ELSE 0 END) FROM firmware_accounts`).Scan(&n, &leaks); err != nil {
				t.Fatal(err)
			}
			if n != 2 || leaks != 0 {
				t.Fatalf("%d rows, %d with the password in clear; want 2 and 0", n, leaks)
			}
			got, err := s.FirmwareAccounts(ctx)
			if err != nil || len(got) != 2 {
				t.Fatalf("read %d accounts (%v), want 2", len(got), err)
			}
			if got[0].Username != "admin" || got[0].Password != pw || got[0].RunID != run.ID || got[0].SHA256 != "ab12" || !got[1].Empty {
				t.Errorf("read %+v", got)
			}
			box := s.secrets
			s.secrets = &secret.Box{}
			got, err = s.FirmwareAccounts(ctx)
			if err != nil || len(got) != 2 || !secret.IsPlaceholder(got[0].Password) {
				t.Errorf("without the key: %+v (%v), want a placeholder password", got, err)
			}
			if err := s.SaveFirmwareAccounts(ctx, run.ID, in); !errors.Is(err, secret.ErrNoKey) {
				t.Errorf("saving without a key: %v, want ErrNoKey", err)
			}
			s.secrets = box
			if strings.Contains(got[0].Password, pw) {
				t.Error("placeholder holds the password")
			}
		})
	}
}
