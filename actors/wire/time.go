package wire

import (
	"encoding/json"
	"fmt"
	"time"
)

// stamp is an instant as it travels: RFC 3339 in UTC with a Z and whole
// seconds, exactly as the seed document shows it.
type stamp struct{ time.Time }

// MarshalJSON writes the seed's format.
func (t stamp) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(time.RFC3339)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339)
	return append(b, '"'), nil
}

// UnmarshalJSON accepts any RFC 3339 time (other nodes may send fractions or
// offsets) and keeps it in UTC.
func (t *stamp) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("not an RFC 3339 time string")
	}
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return fmt.Errorf("%q is not an RFC 3339 time", s)
	}
	t.Time = v.UTC()
	return nil
}

// instant is an instant in a field the seed does not know (said.go): RFC
// 3339 in UTC to the millisecond. Whole seconds would move an end up to a
// second before the announcement it closes, which a node heard after.
type instant struct{ stamp }

// MarshalJSON writes RFC 3339 to the millisecond.
func (t instant) MarshalJSON() ([]byte, error) {
	b := make([]byte, 0, len(sentAtFormat)+2)
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, sentAtFormat)
	return append(b, '"'), nil
}
