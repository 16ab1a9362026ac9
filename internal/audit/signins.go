// Package audit reads Keyward's sign-in log and audit log in the shapes of
// Microsoft Graph's signIn and directoryAudit, with the $filter subset each
// list supports, and keeps both logs to their retention. Turning records into
// Graph's shapes and filters into queries are pure functions; Logs does the
// I/O.
package audit

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyward/keyward/internal/odatafilter"
	"github.com/keyward/keyward/internal/policy"
	"github.com/keyward/keyward/internal/storage"
)

// SignIn is Graph's signIn, with the fields Keyward has, and the passkey's
// AAGUID, model and type.
type SignIn struct {
	ID                               string                                   `json:"id"`
	CreatedDateTime                  string                                   `json:"createdDateTime"`
	UserID                           string                                   `json:"userId"`
	UserPrincipalName                string                                   `json:"userPrincipalName"`
	UserDisplayName                  string                                   `json:"userDisplayName"`
	AppID                            string                                   `json:"appId"`
	AppDisplayName                   string                                   `json:"appDisplayName"`
	IPAddress                        string                                   `json:"ipAddress"`
	UserAgent                        string                                   `json:"userAgent"`
	ClientAppUsed                    string                                   `json:"clientAppUsed"`
	IsInteractive                    bool                                     `json:"isInteractive"`
	CorrelationID                    string                                   `json:"correlationId"`
	Status                           SignInStatus                             `json:"status"`
	AuthenticationDetails            []AuthenticationDetail                   `json:"authenticationDetails"`
	AuthenticationMethodsUsed        []string                                 `json:"authenticationMethodsUsed"`
	ConditionalAccessStatus          string                                   `json:"conditionalAccessStatus"`
	AppliedConditionalAccessPolicies []storage.AppliedConditionalAccessPolicy `json:"appliedConditionalAccessPolicies"`
	AuthenticationRequirement        string                                   `json:"authenticationRequirement"`
	AAGUID                           string                                   `json:"aaGuid"`
	PasskeyModel                     string                                   `json:"passkeyModel"`
	PasskeyType                      string                                   `json:"passkeyType"`
}

// SignInStatus is Graph's signInStatus: errorCode 0 is a success.
type SignInStatus struct {
	ErrorCode         int    `json:"errorCode"`
	FailureReason     string `json:"failureReason"`
	AdditionalDetails string `json:"additionalDetails"`
}

// AuthenticationDetail is one step of a sign-in (Graph's authenticationDetail).
type AuthenticationDetail struct {
	AuthenticationStepDateTime     string `json:"authenticationStepDateTime"`
	AuthenticationMethod           string `json:"authenticationMethod"`
	AuthenticationMethodDetail     string `json:"authenticationMethodDetail"`
	Succeeded                      bool   `json:"succeeded"`
	AuthenticationStepResultDetail string `json:"authenticationStepResultDetail"`
}

// AppDisplayName names sign-ins to Keyward itself (its sign-in page and admin
// center), which have no app ID.
const AppDisplayName = "Keyward"

// Graph's errorCode for the refusals Entra has a code for; every other
// refusal is errorCode 1, told apart by status.additionalDetails (the
// refusal's Keyward code).
var errorCodes = map[string]int{
	"invalidCredentials": 50126,
	"accountDisabled":    50057,
	"tooManyAttempts":    50053,
	"invalidCode":        500121,
	"mfaRequired":        50074,
}

// ErrorCode is the status/errorCode of a record: 0 on success.
func ErrorCode(e storage.SignInEvent) int {
	if e.Result == storage.ResultSuccess {
		return 0
	}
	if n, ok := errorCodes[e.FailureCode]; ok {
		return n
	}
	return 1
}

// MethodName is how the sign-in log names a method (Entra's wording where it
// has one).
func MethodName(method, passkeyType string) string {
	switch method {
	case "passkey":
		if passkeyType == policy.Synced.String() {
			return "Passkey (synced)"
		}
		return "Passkey (device-bound)"
	case "password":
		return "Password"
	case "totp":
		return "OATH verification code"
	case "tap":
		return "Temporary Access Pass"
	case "setup":
		return "First-run setup link"
	case "session":
		// A sign-in to an application with an existing Keyward session
		// (conditional access records it; Entra's wording).
		return "Previously satisfied"
	case "refreshToken":
		// A token refresh: a non-interactive sign-in.
		return "Previously satisfied (refresh token)"
	}
	return method
}

// PhishingResistant tells whether a method resists phishing (a passkey).
func PhishingResistant(method string) bool { return method == "passkey" }

// Authenticates tells whether a record's method proved who someone is, as
// opposed to a use of a sign-in made before (an app or one of Keyward's
// surfaces with the session, a token refresh), which conditional access
// records but which is not another sign-in by a method.
func Authenticates(method string) bool { return method != "session" && method != "refreshToken" }

// NewSignIn is a log record in Graph's shape. Each record is one step; a
// password-and-code sign-in is two records, as Keyward writes them.
func NewSignIn(e storage.SignInEvent) SignIn {
	name := MethodName(e.Method, e.PasskeyType)
	detail := AuthenticationDetail{AuthenticationStepDateTime: graphTime(e.Time), AuthenticationMethod: name,
		Succeeded: e.Result == storage.ResultSuccess, AuthenticationStepResultDetail: e.FailureReason}
	if e.Method == "passkey" {
		detail.AuthenticationMethodDetail = modelName(e.Model, e.AAGUID)
	}
	if detail.Succeeded {
		detail.AuthenticationStepResultDetail = "Succeeded"
	}
	s := SignIn{ID: e.ID, CreatedDateTime: graphTime(e.Time), UserID: e.UserID,
		UserPrincipalName: e.UserPrincipalName, UserDisplayName: e.UserDisplayName,
		AppID: e.AppID, AppDisplayName: e.AppDisplayName, IPAddress: e.IP, UserAgent: e.UserAgent, ClientAppUsed: "Browser",
		IsInteractive: e.Method != "refreshToken", CorrelationID: e.CorrelationID,
		Status:                SignInStatus{ErrorCode: ErrorCode(e), FailureReason: e.FailureReason, AdditionalDetails: e.FailureCode},
		AuthenticationDetails: []AuthenticationDetail{detail}, AuthenticationMethodsUsed: []string{name},
		AAGUID: e.AAGUID, PasskeyModel: e.Model, PasskeyType: e.PasskeyType,
		ConditionalAccessStatus: e.ConditionalAccessStatus, AppliedConditionalAccessPolicies: e.AppliedConditionalAccessPolicies,
		AuthenticationRequirement: e.AuthenticationRequirement}
	if s.AppDisplayName == "" && s.AppID == "" {
		s.AppDisplayName = AppDisplayName
	}
	if s.AppliedConditionalAccessPolicies == nil {
		s.AppliedConditionalAccessPolicies = []storage.AppliedConditionalAccessPolicy{}
	}
	if s.ConditionalAccessStatus == "" {
		s.ConditionalAccessStatus = "notApplied"
	}
	return s
}

func modelName(model, aaguid string) string {
	if model != "" {
		return model
	}
	if aaguid == ZeroAAGUID {
		return "Unknown model (the authenticator did not say which it is)"
	}
	return aaguid
}

// ZeroAAGUID is the AAGUID of an authenticator that does not say its model
// (or a browser that hid it).
const ZeroAAGUID = "00000000-0000-0000-0000-000000000000"

func graphTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// SignInQuery turns a $filter on the sign-in log into a query. Supported:
// createdDateTime ge|le|gt|lt <time>, userId eq '…', userPrincipalName eq
// '…', appId eq '…', aaGuid eq '…', status/errorCode eq 0 | ne 0 — each at most once,
// joined by and.
func SignInQuery(filter string) (storage.SignInQuery, error) {
	var q storage.SignInQuery
	err := eachClause(filter, func(c odatafilter.Clause, _ map[string]bool) error { return signInClause(&q, c) })
	return q, err
}

// eachClause parses filter and hands every clause to apply, refusing a
// field given twice in one direction (see direction); seen holds the
// fields (field/direction) given so far.
func eachClause(filter string, apply func(c odatafilter.Clause, seen map[string]bool) error) error {
	clauses, err := odatafilter.Parse(filter)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, c := range clauses {
		key := c.Field() + "/" + direction(c.Op)
		if seen[key] {
			return fail("%s is given twice", c.Field())
		}
		seen[key] = true
		if err := apply(c, seen); err != nil {
			return err
		}
	}
	return nil
}

const signInFields = "createdDateTime (ge, le, gt, lt), userId, userPrincipalName, appId, aaGuid (eq), status/errorCode (eq 0, ne 0)"

func signInClause(q *storage.SignInQuery, c odatafilter.Clause) error {
	switch {
	case c.Any:
	case strings.EqualFold(c.Path, "createdDateTime"):
		return period(&q.Since, &q.Until, c)
	case strings.EqualFold(c.Path, "userId"):
		return eqString(&q.UserID, c)
	case strings.EqualFold(c.Path, "userPrincipalName"):
		return eqString(&q.UserPrincipalName, c)
	case strings.EqualFold(c.Path, "appId"):
		return eqString(&q.AppID, c)
	case strings.EqualFold(c.Path, "aaGuid"):
		if err := eqString(&q.AAGUID, c); err != nil {
			return err
		}
		norm, err := policy.NormalizeAAGUID(q.AAGUID)
		if err != nil {
			return fail("aaGuid %s is not an AAGUID like 'cb69481e-8ff7-4039-93ec-0a2729a154a8'", c.Value)
		}
		q.AAGUID = norm
		return nil
	case strings.EqualFold(c.Path, "status/errorCode"):
		if c.Value.Kind != odatafilter.Word || c.Value.Text != "0" || c.Op != "eq" && c.Op != "ne" {
			return fail("status/errorCode supports only eq 0 (succeeded) and ne 0 (failed), not %s", c)
		}
		q.Result = storage.ResultSuccess
		if c.Op == "ne" {
			q.Result = storage.ResultFailure
		}
		return nil
	}
	return fail("filtering the sign-in log on %s is not supported; supported: %s", c.Field(), signInFields)
}

// direction groups ge/gt and le/lt, so a lower and an upper bound may both
// be given but not two of one.
func direction(op string) string {
	switch op {
	case "ge", "gt":
		return "from"
	case "le", "lt":
		return "to"
	}
	return "eq"
}

func period(since, until *time.Time, c odatafilter.Clause) error {
	t, err := c.Value.Time()
	if err != nil {
		return err
	}
	switch c.Op {
	case "ge":
		*since = t
	case "gt":
		*since = t.Add(time.Microsecond)
	case "le":
		*until = t
	case "lt":
		*until = t.Add(-time.Microsecond)
	default:
		return fail("%s supports ge, le, gt and lt, not %s", c.Path, c.Op)
	}
	return nil
}

func eqString(dst *string, c odatafilter.Clause) error {
	if c.Op != "eq" {
		return fail("%s supports only eq, not %s", c.Field(), c.Op)
	}
	v, err := c.Value.Str()
	if err != nil {
		return err
	}
	if v == "" {
		return fail("%s eq '' matches nothing; leave the condition out instead", c.Field())
	}
	*dst = v
	return nil
}

func fail(format string, args ...any) error {
	return &odatafilter.Error{Message: fmt.Sprintf(format, args...)}
}
