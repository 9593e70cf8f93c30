package simulator

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The settings below choose among the readings of the API that its docs
// leave open. Each has a name, for flags and configuration: String gives
// it, UnmarshalText reads it.

var orderNames = []string{NewestFirst: "newest", OldestFirst: "oldest"}

func (o Order) String() string { return settingName(orderNames, "Order", o) }

// UnmarshalText reads "newest" or "oldest".
func (o *Order) UnmarshalText(b []byte) error { return parseSetting(orderNames, "order", b, o) }

// DatePrecision is how the server reads date_from and date_to.
type DatePrecision int

const (
	// SecondPrecision honours a time of day, to the second; a date alone is
	// its midnight UTC. Options.ExclusiveDateBounds applies.
	SecondPrecision DatePrecision = iota
	// DayPrecision accepts a time of day but ignores it: each bound is read
	// as its UTC date and whole days are served, date_to's included, as the
	// docs' "date_from=2018-08-01&date_to=2018-08-31 returns August" reads.
	DayPrecision
	// DateOnlyPrecision refuses a time of day with 400 and reads a date
	// alone as DayPrecision does.
	DateOnlyPrecision
)

var datePrecisionNames = []string{SecondPrecision: "second", DayPrecision: "day", DateOnlyPrecision: "date_only"}

func (p DatePrecision) String() string {
	return settingName(datePrecisionNames, "DatePrecision", p)
}

// UnmarshalText reads "second", "day" or "date_only".
func (p *DatePrecision) UnmarshalText(b []byte) error {
	return parseSetting(datePrecisionNames, "date precision", b, p)
}

// CreatedAtFormat is how answers spell an event's created_at, always in UTC.
type CreatedAtFormat int

const (
	// DefaultCreatedAt is the documented "2018-05-16T16:34:22": no zone, no
	// fraction.
	DefaultCreatedAt CreatedAtFormat = iota
	// RFC3339CreatedAt is "2018-05-16T16:34:22Z".
	RFC3339CreatedAt
	// FractionCreatedAt is "2018-05-16T16:34:22.000": milliseconds, no zone.
	FractionCreatedAt
	// SpaceCreatedAt is "2018-05-16 16:34:22".
	SpaceCreatedAt
	// EpochSecondsCreatedAt is the JSON number 1526488462.
	EpochSecondsCreatedAt
	// EpochMillisCreatedAt is the JSON number 1526488462000.
	EpochMillisCreatedAt
)

var createdAtFormatNames = []string{
	DefaultCreatedAt:      "default",
	RFC3339CreatedAt:      "rfc3339",
	FractionCreatedAt:     "fraction",
	SpaceCreatedAt:        "space",
	EpochSecondsCreatedAt: "epoch_seconds",
	EpochMillisCreatedAt:  "epoch_millis",
}

func (f CreatedAtFormat) String() string {
	return settingName(createdAtFormatNames, "CreatedAtFormat", f)
}

// UnmarshalText reads one of "default", "rfc3339", "fraction", "space",
// "epoch_seconds" and "epoch_millis".
func (f *CreatedAtFormat) UnmarshalText(b []byte) error {
	return parseSetting(createdAtFormatNames, "created_at format", b, f)
}

// Names lists the names a setting's UnmarshalText reads, for usage texts.
func Names[T Order | DatePrecision | CreatedAtFormat]() []string {
	var zero T
	switch any(zero).(type) {
	case Order:
		return slices.Clone(orderNames)
	case DatePrecision:
		return slices.Clone(datePrecisionNames)
	}
	return slices.Clone(createdAtFormatNames)
}

func settingName[T ~int](names []string, typ string, v T) string {
	if v >= 0 && int(v) < len(names) {
		return names[v]
	}
	return typ + "(" + strconv.Itoa(int(v)) + ")"
}

func parseSetting[T ~int](names []string, what string, b []byte, v *T) error {
	i := slices.Index(names, string(b))
	if i < 0 {
		return fmt.Errorf("unknown %s %q: want one of %s", what, b, strings.Join(names, ", "))
	}
	*v = T(i)
	return nil
}

// createdAt is an event's created_at as an answer spells it.
type createdAt struct {
	t      time.Time
	format CreatedAtFormat
}

func (c createdAt) MarshalJSON() ([]byte, error) {
	t := c.t.UTC()
	switch c.format {
	case EpochSecondsCreatedAt:
		return strconv.AppendInt(nil, t.Unix(), 10), nil
	case EpochMillisCreatedAt:
		return strconv.AppendInt(nil, t.UnixMilli(), 10), nil
	}
	layout := createdAtLayout
	switch c.format {
	case RFC3339CreatedAt:
		layout = time.RFC3339
	case FractionCreatedAt:
		layout = "2006-01-02T15:04:05.000"
	case SpaceCreatedAt:
		layout = time.DateTime
	}
	return strconv.AppendQuote(nil, t.Format(layout)), nil
}
