package lightclient

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wasmstate/wasmstate/merkle"
)

// Errors of the network client, beside the verification sentinels. A
// server that lies never yields data: its answers fail with ErrInvalid or
// ErrMalformed (wrong bytes, a proof for another root or claim, a
// truncated proof), ErrTransport or ErrTimeout (a broken or slow
// connection), ErrTooLarge or ErrServer.
var (
	// ErrTransport: the request failed or the body was cut short.
	ErrTransport = errors.New("lightclient: transport failure")
	// ErrTimeout: the answer did not arrive in full within the client's
	// timeout (a dead or slowly dripping server).
	ErrTimeout = errors.New("lightclient: timeout")
	// ErrTooLarge: the answer is larger than the client accepts.
	ErrTooLarge = errors.New("lightclient: answer too large")
	// ErrServer: the server answered with an error; see *ServerError.
	ErrServer = errors.New("lightclient: server error")
	// ErrUntrusted: the root is not one the client's TrustedRoots accepts.
	ErrUntrusted = errors.New("lightclient: untrusted root")
)

// ServerError is an error answer of the server (SPEC.md §16.3). It matches
// ErrServer.
type ServerError struct {
	Status  int    // HTTP status
	Code    string // the API's stable error code, e.g. "unknown_root"
	Message string
}

// Error implements error.
func (e *ServerError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.Status, e.Code, e.Message)
}

// Is makes ServerError match ErrServer.
func (e *ServerError) Is(target error) bool { return target == ErrServer }

// TrustedRoots decides which state roots a client may read under: the
// embedder's header chain, a bridge's finalized roots, a configured
// checkpoint. Trusted returns nil for a trusted root and an error (which
// the client wraps with ErrUntrusted) otherwise.
type TrustedRoots interface {
	Trusted(ctx context.Context, root merkle.Hash) error
}

// TrustFunc adapts a function to TrustedRoots.
type TrustFunc func(ctx context.Context, root merkle.Hash) error

// Trusted implements TrustedRoots.
func (f TrustFunc) Trusted(ctx context.Context, root merkle.Hash) error { return f(ctx, root) }

// Defaults of ClientOptions.
const (
	DefaultClientTimeout = 30 * time.Second
	DefaultMaxAnswer     = 40 << 20
)

// ClientOptions configure a Client. The zero value is usable.
type ClientOptions struct {
	// HTTPClient does the requests (nil: a client of its own).
	HTTPClient *http.Client
	// Timeout bounds each request, body included, so that a server
	// dripping bytes cannot hold the client (0: DefaultClientTimeout).
	Timeout time.Duration
	// MaxAnswer bounds the bytes read for one answer (0: DefaultMaxAnswer).
	MaxAnswer int64
	// JSON asks for proofs in the JSON encoding (SPEC.md §7.5) instead of
	// the binary one; both verify the same way.
	JSON bool
	// Trusted, if set, is asked about every root before the client reads
	// under it. Without it the roots the caller passes are taken as
	// trusted, and Head's answer is only the server's claim.
	Trusted TrustedRoots
}

// Client reads verified state from a wasmstate server (SPEC.md §16): it
// fetches a proof for the exact claim asked (page, range, contract,
// absence) under a trusted root and returns data only once the proof
// verifies. It holds no state between calls and is safe for concurrent use.
type Client struct {
	base    string
	hc      *http.Client
	timeout time.Duration
	max     int64
	accept  string
	trust   TrustedRoots
}

// NewClient returns a client of the server at baseURL (e.g.
// "http://127.0.0.1:8545"; the API is under baseURL + "/v1").
func NewClient(baseURL string, o *ClientOptions) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, &Error{Op: "client", Step: -1, Err: fmt.Errorf("%w: base URL %q: want http(s)://host[:port][/path]", ErrTransport, baseURL)}
	}
	if o == nil {
		o = &ClientOptions{}
	}
	c := &Client{base: strings.TrimRight(baseURL, "/"), hc: o.HTTPClient, timeout: o.Timeout, max: o.MaxAnswer,
		accept: "application/octet-stream", trust: o.Trusted}
	if c.hc == nil {
		c.hc = &http.Client{}
	}
	if c.timeout <= 0 {
		c.timeout = DefaultClientTimeout
	}
	if c.max <= 0 {
		c.max = DefaultMaxAnswer
	}
	if o.JSON {
		c.accept = "application/json"
	}
	return c, nil
}

// check asks the trust hook about root.
func (c *Client) check(ctx context.Context, root merkle.Hash) error {
	if c.trust == nil {
		return nil
	}
	if err := c.trust.Trusted(ctx, root); err != nil {
		return fmt.Errorf("%w: %s: %v", ErrUntrusted, root, err)
	}
	return nil
}

// get fetches path and returns the body of a 200 answer.
func (c *Client) get(ctx context.Context, path, accept string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTransport, err)
	}
	req.Header.Set("Accept", accept)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	defer resp.Body.Close()
	if resp.ContentLength > c.max {
		return nil, fmt.Errorf("%w: %d bytes announced, the limit is %d", ErrTooLarge, resp.ContentLength, c.max)
	}
	var body []byte
	if resp.ContentLength >= 0 {
		// One allocation of the announced size; a shorter body is a
		// transport failure (io.ErrUnexpectedEOF).
		body = make([]byte, resp.ContentLength)
		_, err = io.ReadFull(resp.Body, body)
	} else {
		body, err = io.ReadAll(io.LimitReader(resp.Body, c.max+1))
	}
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if int64(len(body)) > c.max {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, c.max)
	}
	if resp.StatusCode != http.StatusOK {
		se := &ServerError{Status: resp.StatusCode}
		var e struct {
			Error struct{ Code, Message string }
		}
		if json.Unmarshal(body, &e) == nil {
			se.Code, se.Message = e.Error.Code, e.Error.Message
		} else {
			se.Message = strings.TrimSpace(string(body[:min(len(body), 200)]))
		}
		return nil, se
	}
	return body, nil
}

func transportError(ctx context.Context, err error) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return fmt.Errorf("%w: %v", ErrTransport, err)
}

func contractPath(root merkle.Hash, id merkle.ContractID) string {
	return "/v1/roots/" + root.String() + "/contracts/" + id.String()
}

// proof fetches a proof after checking that root is trusted.
func (c *Client) proof(ctx context.Context, root merkle.Hash, path string) ([]byte, error) {
	if err := c.check(ctx, root); err != nil {
		return nil, err
	}
	return c.get(ctx, path, c.accept)
}

// Page returns page index of contract id's memory under root, verified.
func (c *Client) Page(ctx context.Context, root merkle.Hash, id merkle.ContractID, index uint64) ([]byte, error) {
	op := fmt.Sprintf("page %d of %s", index, short(id))
	b, err := c.proof(ctx, root, fmt.Sprintf("%s/pages/%d/proof", contractPath(root, id), index))
	if err != nil {
		return nil, wrap(op, err)
	}
	return VerifyPage(root, id, index, b)
}

// Range returns the length bytes at offset of contract id's memory under
// root, verified.
func (c *Client) Range(ctx context.Context, root merkle.Hash, id merkle.ContractID, offset, length uint64) ([]byte, error) {
	op := fmt.Sprintf("bytes %d+%d of %s", offset, length, short(id))
	if length == 0 || length > merkle.MaxProofRange {
		return nil, wrap(op, fmt.Errorf("%w: length %d (1..%d)", ErrOutOfRange, length, merkle.MaxProofRange))
	}
	b, err := c.proof(ctx, root, fmt.Sprintf("%s/bytes/%d/%d/proof", contractPath(root, id), offset, length))
	if err != nil {
		return nil, wrap(op, err)
	}
	return VerifyRange(root, id, offset, length, b)
}

// Contract returns contract id's leaf under root, verified. A contract
// that does not exist gives an error matching ErrServer (code
// "no_contract") or, if the server lies, ErrInvalid; Lookup tells absence
// apart with a proof.
func (c *Client) Contract(ctx context.Context, root merkle.Hash, id merkle.ContractID) (merkle.ContractLeaf, error) {
	leaf, ok, err := c.Lookup(ctx, root, id)
	if err == nil && !ok {
		err = wrap("contract "+short(id), &ServerError{Status: http.StatusNotFound, Code: "no_contract", Message: "proven absent"})
	}
	return leaf, err
}

// Lookup proves either contract id's leaf or its absence under root:
// present reports which. The server's proof must verify for the kind it
// sent.
func (c *Client) Lookup(ctx context.Context, root merkle.Hash, id merkle.ContractID) (leaf merkle.ContractLeaf, present bool, err error) {
	op := "contract " + short(id)
	b, err := c.proof(ctx, root, contractPath(root, id)+"/proof")
	if err != nil {
		return leaf, false, wrap(op, err)
	}
	p, err := Decode(b)
	if err != nil {
		return leaf, false, wrap(op, errors.Unwrap(err))
	}
	if p.Kind() == merkle.KindAbsence {
		return leaf, false, wrap("absence of "+short(id), merkle.VerifyAbsence(root, id, p))
	}
	leaf, err = merkle.VerifyContract(root, id, p)
	return leaf, err == nil, wrap(op, err)
}

// Absence checks that no contract has the id id under root.
func (c *Client) Absence(ctx context.Context, root merkle.Hash, id merkle.ContractID) error {
	_, present, err := c.Lookup(ctx, root, id)
	if err == nil && present {
		err = wrap("absence of "+short(id), &merkle.VerifyError{Reason: "the contract exists"})
	}
	return err
}

// Checkpoint is a root the client trusts, with its position in the chain.
type Checkpoint struct {
	Height uint64
	Root   merkle.Hash
}

// FollowPage follows page index of contract id across checkpoints (oldest
// first): it fetches the page's proof under each root and verifies the
// chain with VerifyChain, so it returns the page as of every checkpoint and
// marks where it changed.
func (c *Client) FollowPage(ctx context.Context, id merkle.ContractID, index uint64, checkpoints []Checkpoint) ([]PageVersion, error) {
	steps := make([]Step, len(checkpoints))
	for i, cp := range checkpoints {
		b, err := c.proof(ctx, cp.Root, fmt.Sprintf("%s/pages/%d/proof", contractPath(cp.Root, id), index))
		if err != nil {
			return nil, &Error{Op: fmt.Sprintf("height %d, root %s", cp.Height, cp.Root.String()[:16]+"…"), Step: i, Err: err}
		}
		steps[i] = Step{Height: cp.Height, Root: cp.Root, Proof: b}
	}
	return VerifyChain(id, index, steps)
}

// Head returns the server's head root. It is only the server's claim:
// with a TrustedRoots hook it is checked (ErrUntrusted otherwise); without
// one the caller must establish trust in it some other way.
func (c *Client) Head(ctx context.Context) (merkle.Hash, error) {
	b, err := c.get(ctx, "/v1/head", "application/json")
	if err != nil {
		return merkle.Hash{}, wrap("head", err)
	}
	root, err := parseHead(b)
	if err != nil {
		return root, wrap("head", err)
	}
	return root, wrap("head", c.check(ctx, root))
}

func parseHead(b []byte) (merkle.Hash, error) {
	var h struct{ Root string }
	if err := json.Unmarshal(b, &h); err != nil {
		return merkle.Hash{}, &merkle.FormatError{What: "head", Offset: -1, Reason: err.Error()}
	}
	root, err := merkle.ParseHash(h.Root)
	if err != nil {
		return root, &merkle.FormatError{What: "head", Offset: -1, Reason: err.Error()}
	}
	return root, nil
}

// WatchHeads follows the server's stream of heads (/v1/heads) and calls fn
// with each new head the TrustedRoots hook accepts; heads it rejects are
// skipped (a server may announce a root before the client's chain knows
// it, or lie). It returns when ctx ends (nil), fn returns an error (that
// error), or the stream fails or ends (ErrTransport); callers reconnect.
// It needs a TrustedRoots hook. The per-request Timeout does not apply to
// the stream, only to its first response.
func (c *Client) WatchHeads(ctx context.Context, fn func(root merkle.Hash) error) error {
	if c.trust == nil {
		return wrap("heads", fmt.Errorf("%w: WatchHeads needs a TrustedRoots hook", ErrUntrusted))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/heads", nil)
	if err != nil {
		return wrap("heads", fmt.Errorf("%w: %v", ErrTransport, err))
	}
	req.Header.Set("Accept", "text/event-stream")
	first := time.AfterFunc(c.timeout, cancel)
	resp, err := c.hc.Do(req)
	first.Stop()
	if err != nil {
		if ctx.Err() != nil && errors.Is(err, context.Canceled) {
			return nil
		}
		return wrap("heads", transportError(ctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		se := &ServerError{Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		return wrap("heads", se)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 4096), 4096) // events are small: a long line is an attack
	var event, data string
	var last merkle.Hash
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if event == "head" {
				root, err := parseHead([]byte(data))
				if err == nil && root != last && c.trust.Trusted(ctx, root) == nil {
					last = root
					if err := fn(root); err != nil {
						return err
					}
				}
			}
			event, data = "", ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(line[len("event:"):])
		case strings.HasPrefix(line, "data:"):
			data += strings.TrimSpace(line[len("data:"):])
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	err = sc.Err()
	if err == nil {
		err = io.EOF
	}
	return wrap("heads", fmt.Errorf("%w: stream ended: %v", ErrTransport, err))
}
