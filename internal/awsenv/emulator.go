package awsenv

import (
	"bytes"
	"io"
	"net/http"
)

// EmulatorHTTPClient is the HTTP client to use against a local emulator
// (kumo). It hands the transport a private copy of each request body.
//
// Why: smithy-go closes the request body as soon as client.Do returns. Against
// kumo, which answers quickly, that can land while net/http still holds the
// body; the transport then fails the write and closes the connection under
// the response being read. SQS ReceiveMessage answers above ~4 KiB fail with
// "deserialization failed … use of closed network connection", and the
// messages stay invisible until their visibility timeout (seen on 1 run in
// ~3 with 10 messages of 600 bytes; never with a private body copy).
// Request bodies here are small (≤ 1 MiB), so the copy is cheap.
func EmulatorHTTPClient() *http.Client {
	// No redirect is followed: AWS APIs answer none that a client should
	// follow, and each request carries a signed Authorization header.
	return &http.Client{Transport: bodyCopier{http.DefaultTransport.(*http.Transport).Clone()},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

type bodyCopier struct{ next http.RoundTripper }

func (b bodyCopier) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return b.next.RoundTrip(req)
	}
	body, err := io.ReadAll(req.Body)
	req.Body.Close()
	if err != nil {
		return nil, err
	}
	clone := req.Clone(req.Context())
	clone.Body = io.NopCloser(bytes.NewReader(body))
	clone.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	clone.ContentLength = int64(len(body))
	return b.next.RoundTrip(clone)
}
