package okta

// LogEvent is the part of an Okta System Log LogEvent most handlers need,
// named as in Okta's System Log API. Decode an event's raw JSON into it
// (handlers.Event.Decode); fields Okta did not send stay empty.
type LogEvent struct {
	UUID           string      `json:"uuid"`
	Published      string      `json:"published"`
	EventType      string      `json:"eventType"`
	Version        string      `json:"version"`
	Severity       string      `json:"severity"`
	DisplayMessage string      `json:"displayMessage"`
	Actor          Actor       `json:"actor"`
	Outcome        Outcome     `json:"outcome"`
	Target         []Target    `json:"target"`
	Client         Client      `json:"client"`
	Transaction    Transaction `json:"transaction"`
}

// Actor is who performed the action of a LogEvent.
type Actor struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// Target is what a LogEvent acted on: a user, group, app, ...
type Target struct {
	ID          string `json:"id"`
	Type        string `json:"type"`
	AlternateID string `json:"alternateId"`
	DisplayName string `json:"displayName"`
}

// Outcome is a LogEvent's result.
type Outcome struct {
	Result string `json:"result"`
	Reason string `json:"reason"`
}

// Client is where the action of a LogEvent came from.
type Client struct {
	IPAddress string `json:"ipAddress"`
	UserAgent struct {
		RawUserAgent string `json:"rawUserAgent"`
	} `json:"userAgent"`
}

// Transaction is the request a LogEvent was part of.
type Transaction struct {
	ID   string `json:"id"`
	Type string `json:"type"`
}
