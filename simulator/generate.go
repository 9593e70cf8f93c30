package simulator

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// typeWeights say how often each type occurs, relative to the others; the shares
// are a guess at a busy account: logins and number changes dominate, secret
// and whitelist changes are rare.
var typeWeights = []weighted[string]{
	{"USER_LOGIN", 300},
	{"NUMBER_UPDATED", 250},
	{"USER_LOGOUT", 80},
	{"NUMBER_ASSIGN", 80},
	{"APP_UPDATE", 80},
	{"APP_CREATE", 40},
	{"NUMBER_LINKED", 40},
	{"NUMBER_UNLINKED", 30},
	{"NUMBER_RELEASE", 30},
	{"USER_UPDATE", 30},
	{"USER_PRODUCT_SEARCH", 30},
	{"ACCOUNT_UPDATE_SETTINGS", 20},
	{"ACCOUNT_UPDATE_SETTINGS_API", 20},
	{"APP_DELETE", 20},
	{"APP_DISABLE", 10},
	{"APP_ENABLE", 10},
	{"USER_BILLING_UPDATE", 10},
	{"AUTORELOAD_ENABLE", 10},
	{"AUTORELOAD_UPDATE", 10},
	{"AUTORELOAD_DISABLE", 10},
	{"USER_STATUS", 10},
	{"USER_CREATE", 10},
	{"NUMBER_USER_CANCELED", 10},
	{"USER_API_KEYS_UPDATE", 5},
	{"ACCOUNT_SECRET_CREATE", 5},
	{"ACCOUNT_SECRET_DELETE", 4},
	{"IP_WHITELIST_CREATE", 3},
	{"IP_WHITELIST_DELETE", 2},
	{"ACCOUNT_UPDATE_SPAMMER", 1},
}

// Types that only a person in the dashboard, or only a program, causes.
var (
	dashboardOnly = []string{"USER_LOGIN", "USER_LOGOUT", "USER_PRODUCT_SEARCH", "USER_BILLING_UPDATE",
		"ACCOUNT_UPDATE_SETTINGS", "AUTORELOAD_ENABLE", "AUTORELOAD_UPDATE", "AUTORELOAD_DISABLE", "USER_CREATE"}
	apiOnly = []string{"ACCOUNT_UPDATE_SETTINGS_API"}
)

type weighted[T any] struct {
	v T
	w int
}

func pick[T any](r *rand.Rand, items []weighted[T]) T {
	total := 0
	for _, it := range items {
		total += it.w
	}
	n := r.IntN(total)
	for _, it := range items {
		if n < it.w {
			return it.v
		}
		n -= it.w
	}
	return items[len(items)-1].v
}

var countries = []weighted[string]{
	{"GB", 30}, {"US", 25}, {"DE", 10}, {"FR", 8}, {"ES", 6}, {"IN", 8}, {"BR", 5}, {"NL", 4}, {"SG", 2}, {"JP", 2},
}

// Documentation ranges only (RFC 5737), so that no real address shows up.
var ipPrefixes = []string{"192.0.2.", "198.51.100.", "203.0.113."}

var (
	dashboardDescriptions = []weighted[string]{{"Customer dashboard", 8}, {"Customer Dashboard", 2}}
	apiDescriptions       = []weighted[string]{{"Developer API", 6}, {"Developer Api", 4}}
)

var userNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "oscar"}

// user is one person of the account, who mostly logs in from home.
type user struct {
	email   string
	id      int64
	country string
	ip      string
}

func makeUsers(r *rand.Rand) []user {
	users := make([]user, len(userNames))
	for i, name := range userNames {
		users[i] = user{
			email:   name + "@example.com",
			id:      1_000_000 + r.Int64N(9_000_000),
			country: pick(r, countries),
			ip:      randomIP(r),
		}
	}
	return users
}

func randomIP(r *rand.Rand) string {
	return fmt.Sprintf("%s%d", ipPrefixes[r.IntN(len(ipPrefixes))], 1+r.IntN(254))
}

// newUUID returns a random version 4 UUID drawn from r.
func newUUID(r *rand.Rand) string {
	var b [16]byte
	for i := 0; i < len(b); i += 8 {
		v := r.Uint64()
		for j := range 8 {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Generate adds n realistic events that happened over [from, to], several
// often sharing a second, and returns them oldest first. from and to are
// read on Options.Now's clock; created_at is stamped by the API's, which is
// Options.ClockSkew ahead.
func (s *Server) Generate(n int, from, to time.Time) []Event {
	from, to = from.Add(s.opts.ClockSkew), to.Add(s.opts.ClockSkew)
	lo := from.UTC().Truncate(time.Second)
	if lo.Before(from) {
		lo = lo.Add(time.Second)
	}
	span := int64(to.UTC().Truncate(time.Second).Sub(lo) / time.Second)
	s.mu.Lock()
	defer s.mu.Unlock()
	events := make([]Event, 0, n)
	for len(events) < n {
		at := lo
		if span > 0 {
			at = lo.Add(time.Duration(s.gen.Int64N(span+1)) * time.Second)
		}
		for range min(s.burstSize(), n-len(events)) {
			events = append(events, s.makeEvent(at))
		}
	}
	slices.SortStableFunc(events, func(a, b Event) int { return a.CreatedAt.Compare(b.CreatedAt) })
	return s.addLocked(events)
}

// burstSize is how many events happen in the same second: mostly one,
// sometimes a burst of a script or a busy admin.
func (s *Server) burstSize() int {
	if s.gen.IntN(100) < 8 {
		return 2 + s.gen.IntN(11)
	}
	return 1
}

// makeEvent draws one event at the given time; s.mu must be held.
func (s *Server) makeEvent(at time.Time) Event {
	r := s.gen
	typ := pick(r, typeWeights)
	source := "CD"
	switch {
	case slices.Contains(apiOnly, typ):
		source = "DEVAPI"
	case !slices.Contains(dashboardOnly, typ) && r.IntN(100) < 45:
		source = "DEVAPI"
	}
	u := s.users[r.IntN(len(s.users))]
	e := Event{
		ID:                   newUUID(r),
		EventType:            typ,
		EventTypeDescription: s.descriptions[typ],
		CreatedAt:            at,
		AccountID:            s.opts.AccountID,
		Source:               source,
		SourceIP:             u.ip,
		SourceCountry:        u.country,
	}
	if r.IntN(100) < 15 {
		e.SourceIP = randomIP(r)
		e.SourceCountry = pick(r, countries)
	}
	if source == "CD" {
		e.SourceDescription = pick(r, dashboardDescriptions)
		e.UserEmail, e.UserID = u.email, u.id
	} else {
		e.SourceDescription = pick(r, apiDescriptions)
		// API calls are made with the account's key, not as a person: most
		// carry no user at all, as in the documented DEVAPI example.
		if r.IntN(100) < 30 {
			e.UserEmail, e.UserID = u.email, u.id
		}
	}
	e.Context = makeContext(r, typ, u, s.opts.AccountID)
	if late := s.faults.LateBy; late > 0 {
		e.VisibleAt = at.Add(late)
	}
	return e
}

func msisdn(r *rand.Rand, country string) string {
	switch country {
	case "GB":
		return fmt.Sprintf("447700900%03d", r.IntN(1000))
	case "US":
		return fmt.Sprintf("1202555%04d", 100+r.IntN(100))
	case "DE":
		return fmt.Sprintf("4915510%06d", r.IntN(1_000_000))
	}
	return fmt.Sprintf("33639980%03d", r.IntN(1000))
}

var numberCountries = []weighted[string]{{"GB", 5}, {"US", 4}, {"DE", 2}, {"FR", 1}}

// makeContext builds the type's context, with the mixed key styles
// (snake_case, camelCase, kebab-case) the real API shows.
func makeContext(r *rand.Rand, typ string, u user, account string) map[string]any {
	switch typ {
	case "NUMBER_ASSIGN", "NUMBER_RELEASE", "NUMBER_USER_CANCELED":
		c := pick(r, numberCountries)
		return map[string]any{"country": c, "msisdn": msisdn(r, c), "features": []string{"SMS", "VOICE"}}
	case "NUMBER_UPDATED":
		c := pick(r, numberCountries)
		return map[string]any{"country": c, "msisdn": msisdn(r, c),
			"voice-type": []string{"app", "sip", "tel", "vxml"}[r.IntN(4)], "moHttpUrl": "https://example.com/webhooks/inbound-sms"}
	case "NUMBER_LINKED", "NUMBER_UNLINKED":
		c := pick(r, numberCountries)
		return map[string]any{"msisdn": msisdn(r, c), "application_id": newUUID(r)}
	case "APP_CREATE", "APP_DELETE", "APP_DISABLE", "APP_ENABLE":
		return map[string]any{"application_id": newUUID(r), "name": fmt.Sprintf("app-%d", 1+r.IntN(40))}
	case "APP_UPDATE":
		return map[string]any{"application_id": newUUID(r),
			"changedFields": []string{[]string{"voice.answer_url", "voice.event_url", "messages.inbound_url", "name"}[r.IntN(4)]}}
	case "USER_LOGIN":
		return map[string]any{"loginMethod": []string{"password", "password", "sso"}[r.IntN(3)], "2fa": r.IntN(4) > 0}
	case "USER_STATUS":
		return map[string]any{"user_id": u.id, "status": []string{"ACTIVE", "SUSPENDED", "LOCKED"}[r.IntN(3)]}
	case "USER_CREATE", "USER_UPDATE":
		return map[string]any{"email": u.email, "role": []string{"admin", "developer", "finance"}[r.IntN(3)]}
	case "USER_API_KEYS_UPDATE":
		return map[string]any{"api_key": account}
	case "ACCOUNT_SECRET_CREATE", "ACCOUNT_SECRET_DELETE":
		return map[string]any{"api_key": account, "secret_id": newUUID(r)}
	case "IP_WHITELIST_CREATE", "IP_WHITELIST_DELETE":
		return map[string]any{"ip-range": randomIP(r) + "/32"}
	case "AUTORELOAD_ENABLE", "AUTORELOAD_UPDATE":
		return map[string]any{"threshold": "10.00", "amount": fmt.Sprintf("%d.00", 10*(1+r.IntN(5))), "currency": "EUR"}
	case "ACCOUNT_UPDATE_SETTINGS", "ACCOUNT_UPDATE_SETTINGS_API":
		return map[string]any{"settings": map[string]any{"drCallbackUrl": "https://example.com/webhooks/dlr", "httpForwardMethod": "POST"}}
	case "USER_PRODUCT_SEARCH":
		return map[string]any{"search": []string{"voice", "sms", "verify", "video"}[r.IntN(4)]}
	}
	return map[string]any{}
}
