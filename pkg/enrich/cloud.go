package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Instance is what the cloud instance metadata service says about the
// machine running the mutator (in Sensu, the backend that runs the
// pipeline, not the entity the event is about).
type Instance struct {
	Provider     string `json:"provider"`
	Account      string `json:"account,omitempty"`
	Region       string `json:"region,omitempty"`
	Zone         string `json:"zone,omitempty"`
	InstanceID   string `json:"instance_id,omitempty"`
	InstanceType string `json:"instance_type,omitempty"`
}

// The providers CloudOptions.Provider accepts.
const (
	CloudAuto  = "auto"
	CloudAWS   = "aws"
	CloudGCP   = "gcp"
	CloudAzure = "azure"
)

// DefaultMetadataEndpoint is the link-local address all three providers
// serve their metadata on (GCP's metadata.google.internal resolves to it;
// the address avoids a DNS lookup).
const DefaultMetadataEndpoint = "http://169.254.169.254"

// CloudOptions configure FetchInstance.
type CloudOptions struct {
	// Provider is aws, gcp, azure or auto (ask all three at once, keep the
	// one that answers).
	Provider string
	// Endpoint is the metadata service's base URL (DefaultMetadataEndpoint
	// when empty). Tests point it at a local server.
	Endpoint string
	// Timeout bounds the whole fetch.
	Timeout time.Duration
}

// maxMetadata bounds a metadata response.
const maxMetadata = 64 << 10

// FetchInstance asks the instance metadata service. AWS uses IMDSv2 (PUT
// a session token, then GET the identity document with it), GCP sends
// Metadata-Flavor: Google (and checks the answer carries it), Azure
// Metadata: true. Requests never go through a proxy.
func FetchInstance(ctx context.Context, o CloudOptions) (*Instance, error) {
	base := strings.TrimRight(o.Endpoint, "/")
	if base == "" {
		base = DefaultMetadataEndpoint
	}
	if o.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.Timeout)
		defer cancel()
	}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	fetchers := map[string]func(context.Context, *http.Client, string) (*Instance, error){
		CloudAWS: fetchAWS, CloudGCP: fetchGCP, CloudAzure: fetchAzure,
	}
	if f, ok := fetchers[o.Provider]; ok {
		return f(ctx, client, base)
	}
	if o.Provider != CloudAuto {
		return nil, fmt.Errorf("unknown cloud provider %q", o.Provider)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	type result struct {
		in  *Instance
		err error
	}
	ch := make(chan result, len(fetchers))
	for _, f := range fetchers {
		go func() {
			in, err := f(ctx, client, base)
			ch <- result{in, err}
		}()
	}
	var errs []error
	for range fetchers {
		r := <-ch
		if r.err == nil {
			return r.in, nil
		}
		errs = append(errs, r.err)
	}
	return nil, errors.Join(errs...)
}

// get performs one metadata request and decodes a JSON answer into v (or
// returns the body when v is nil), with the answer's headers.
func get(ctx context.Context, c *http.Client, method, u string, header map[string]string, v any) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, nil, err
	}
	for k, val := range header {
		req.Header.Set(k, val)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadata))
	if err != nil {
		return nil, resp.Header, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, resp.Header, fmt.Errorf("%s %s: HTTP %d", method, req.URL.Path, resp.StatusCode)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			return nil, resp.Header, fmt.Errorf("%s: %w", req.URL.Path, err)
		}
	}
	return body, resp.Header, nil
}

func fetchAWS(ctx context.Context, c *http.Client, base string) (*Instance, error) {
	token, _, err := get(ctx, c, http.MethodPut, base+"/latest/api/token", map[string]string{"X-aws-ec2-metadata-token-ttl-seconds": "60"}, nil)
	if err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	var doc struct {
		AccountID        string `json:"accountId"`
		Region           string `json:"region"`
		AvailabilityZone string `json:"availabilityZone"`
		InstanceID       string `json:"instanceId"`
		InstanceType     string `json:"instanceType"`
	}
	if _, _, err := get(ctx, c, http.MethodGet, base+"/latest/dynamic/instance-identity/document",
		map[string]string{"X-aws-ec2-metadata-token": strings.TrimSpace(string(token))}, &doc); err != nil {
		return nil, fmt.Errorf("aws: %w", err)
	}
	if doc.InstanceID == "" {
		return nil, errors.New("aws: identity document has no instanceId")
	}
	return &Instance{Provider: CloudAWS, Account: doc.AccountID, Region: doc.Region, Zone: doc.AvailabilityZone, InstanceID: doc.InstanceID, InstanceType: doc.InstanceType}, nil
}

func fetchGCP(ctx context.Context, c *http.Client, base string) (*Instance, error) {
	var doc struct {
		Instance struct {
			ID          json.Number `json:"id"`
			Zone        string      `json:"zone"`
			MachineType string      `json:"machineType"`
		} `json:"instance"`
		Project struct {
			ProjectID string `json:"projectId"`
		} `json:"project"`
	}
	_, h, err := get(ctx, c, http.MethodGet, base+"/computeMetadata/v1/?recursive=true", map[string]string{"Metadata-Flavor": "Google"}, &doc)
	if err != nil {
		return nil, fmt.Errorf("gcp: %w", err)
	}
	if h.Get("Metadata-Flavor") != "Google" {
		return nil, errors.New("gcp: the answer has no Metadata-Flavor: Google header")
	}
	if doc.Instance.ID == "" {
		return nil, errors.New("gcp: metadata has no instance id")
	}
	zone := lastSegment(doc.Instance.Zone)
	region := zone
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		region = zone[:i]
	}
	return &Instance{Provider: CloudGCP, Account: doc.Project.ProjectID, Region: region, Zone: zone, InstanceID: doc.Instance.ID.String(), InstanceType: lastSegment(doc.Instance.MachineType)}, nil
}

func fetchAzure(ctx context.Context, c *http.Client, base string) (*Instance, error) {
	var doc struct {
		Location       string `json:"location"`
		Zone           string `json:"zone"`
		VMID           string `json:"vmId"`
		VMSize         string `json:"vmSize"`
		SubscriptionID string `json:"subscriptionId"`
	}
	if _, _, err := get(ctx, c, http.MethodGet, base+"/metadata/instance/compute?api-version=2021-02-01", map[string]string{"Metadata": "true"}, &doc); err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	if doc.VMID == "" {
		return nil, errors.New("azure: metadata has no vmId")
	}
	return &Instance{Provider: CloudAzure, Account: doc.SubscriptionID, Region: doc.Location, Zone: doc.Zone, InstanceID: doc.VMID, InstanceType: doc.VMSize}, nil
}

func lastSegment(s string) string { return s[strings.LastIndexByte(s, '/')+1:] }
