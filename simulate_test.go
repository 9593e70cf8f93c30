package main

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/vonage-audit-exporter/vonage_audit_exporter/simulator"
)

func TestSimulatorFlags(t *testing.T) {
	tests := []struct {
		args    []string
		want    simulator.Options
		wantErr string
	}{
		{args: nil, want: simulator.Options{}},
		{args: []string{"--sim.page-cap=30", "--sim.date-precision=date_only", "--sim.clock-skew=-2m", "--sim.order=oldest",
			"--sim.past-end-404", "--sim.created-at-format=epoch_millis"},
			want: simulator.Options{PageCap: 30, DatePrecision: simulator.DateOnlyPrecision, ClockSkew: -2 * time.Minute,
				Order: simulator.OldestFirst, PastEndNotFound: true, CreatedAtFormat: simulator.EpochMillisCreatedAt}},
		{args: []string{"cmd", "--sim.date-precision", "day", "--sim.order=newest", "--sim.created-at-format=space"},
			want: simulator.Options{DatePrecision: simulator.DayPrecision, CreatedAtFormat: simulator.SpaceCreatedAt}},
		{args: []string{"--sim.page-cap=-1"}, wantErr: `--sim.page-cap: want a whole number, 0 or more, not "-1"`},
		{args: []string{"--sim.date-precision=hour"}, wantErr: `--sim.date-precision: unknown date precision "hour"`},
		{args: []string{"--sim.clock-skew=2"}, wantErr: `--sim.clock-skew: want a duration`},
		{args: []string{"--sim.order=Newest"}, wantErr: `--sim.order: unknown order "Newest": want one of newest, oldest`},
		{args: []string{"--sim.created-at-format=iso"}, wantErr: `--sim.created-at-format: unknown created_at format "iso"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			app := kingpin.New("test", "")
			app.Command("cmd", "").Default()
			var got simulator.Options
			simulatorFlags(app, &got)
			_, err := app.Parse(tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("parsing: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options %+v, want %+v", got, tt.want)
			}
		})
	}
}
