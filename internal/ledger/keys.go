package ledger

// The ledger table holds items of several kinds under one string key
// (AttrKey). Handler records are "<uuid>#<handler>" (Key.ID): they start with
// the event's own uuid, so they have no prefix of their own. Every other
// kind starts with a fixed prefix, so that the IAM role of each function
// that writes one may write only its own kinds (template.yaml,
// dynamodb:LeadingKeys), and a bug or a compromised function cannot
// overwrite the worker's records or another function's items.
const (
	// PrefixMark: delivery marks, "delivered#<uuid>" (MarkKey).
	PrefixMark = "delivered#"
	// PrefixCursor: System Log cursors, "cursor#<name>" (Cursors).
	PrefixCursor = "cursor#"
	// PrefixOktaSide: what the reconciler keeps about Okta's side of the
	// hook, "oktaside#<name>" (OktaSideStore).
	PrefixOktaSide = "oktaside#"
	// PrefixSubject: a Latest handler's lease and watermark of one subject,
	// "subject#<handler>#<subject>" (SubjectKey), written by the worker.
	PrefixSubject = "subject#"
	// PrefixSchema: a learned payload shape, "schema#<eventType>"
	// (SchemaKey), written by the worker.
	PrefixSchema = "schema#"
)

// Writers are the key prefixes each function's role may write in the
// ledger table, by function: template.yaml's dynamodb:LeadingKeys conditions
// must say exactly this (internal/samtemplate TestPolicyLedgerKeys), and
// every prefix-like string literal in the code must be one of them
// (TestEveryKeyPrefixInTheCodeIsDeclared). A new kind of item is a prefix
// constant above and its entry here. The worker's role cannot be limited to
// prefixes (its handler records have none), so it is limited to keys outside
// every other function's; items of its own with a prefix go under "worker".
var Writers = map[string][]string{
	"receiver":   {PrefixMark},
	"reconciler": {PrefixMark, PrefixCursor, PrefixOktaSide},
	"streamer":   {PrefixMark},
	"worker":     {PrefixSubject, PrefixSchema},
}
