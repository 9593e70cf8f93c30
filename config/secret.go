package config

import (
	"fmt"
	"io"
	"log/slog"
)

const redactedSecret = "<secret>"

// Secret holds an API secret. Every way of printing or encoding it gives
// "<secret>", so that it cannot leak into a log line, an error or a
// rendered config by accident; use string(s) where the real value is needed.
type Secret string

// String implements fmt.Stringer.
func (Secret) String() string { return redactedSecret }

// GoString implements fmt.GoStringer, for %#v.
func (Secret) GoString() string { return redactedSecret }

// Format implements fmt.Formatter, so that no verb (%x, %q, ...) can show the value.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redactedSecret) }

// MarshalText implements encoding.TextMarshaler, used by logfmt and slog.
func (Secret) MarshalText() ([]byte, error) { return []byte(redactedSecret), nil }

// MarshalJSON implements json.Marshaler.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redactedSecret + `"`), nil }

// MarshalYAML implements yaml.Marshaler.
func (Secret) MarshalYAML() (any, error) { return redactedSecret, nil }

// LogValue implements slog.LogValuer.
func (Secret) LogValue() slog.Value { return slog.StringValue(redactedSecret) }
