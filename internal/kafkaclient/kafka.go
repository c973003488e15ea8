// Package kafka holds the Kafka plumbing every role shares: client options from the config (brokers,
// TLS, SASL), topic names, topic creation, and the embedded Kafka-protocol broker.
package kafkaclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/streamlearn/streamlearn/internal/secrets"
)

// Topics names the topics streamlearn reads and writes.
type Topics struct {
	Events      string `yaml:"events"`
	Outcomes    string `yaml:"outcomes"`
	Predictions string `yaml:"predictions"`
	DeadLetter  string `yaml:"dead_letter"`
	Examples    string `yaml:"examples"`
	Models      string `yaml:"models"`
	Control     string `yaml:"control"`
}

// DefaultTopics returns the contract's topic names.
func DefaultTopics() Topics {
	return Topics{
		Events: "events", Outcomes: "outcomes", Predictions: "predictions", DeadLetter: "events.dlq",
		Examples: "examples", Models: "models", Control: "control",
	}
}

// All returns every topic name.
func (t Topics) All() []string {
	return []string{t.Events, t.Outcomes, t.Predictions, t.DeadLetter, t.Examples, t.Models, t.Control}
}

// Config says how to reach Kafka.
type Config struct {
	// Brokers are the seed brokers (host:port). Ignored when Embedded is set.
	Brokers []string `yaml:"brokers"`
	// Embedded, when set (host:port), starts a Kafka-protocol broker inside the process on that address.
	Embedded string `yaml:"embedded"`
	// EmbeddedDataDir keeps the embedded broker's log on disk across restarts ("" keeps it in memory).
	EmbeddedDataDir string `yaml:"embedded_data_dir"`
	// Partitions is the partition count of topics streamlearn creates (default 4).
	Partitions int32 `yaml:"partitions"`
	// ReplicationFactor of created topics (default -1: the broker's default).
	ReplicationFactor int16 `yaml:"replication_factor"`
	// Group is the consumer group prefix (default "streamlearn"); each role appends its name.
	Group  string `yaml:"group"`
	Topics Topics `yaml:"topics"`
	TLS    TLS    `yaml:"tls"`
	SASL   SASL   `yaml:"sasl"`
	// ProducerBatchMaxBytes bounds a produced batch, and so a record (default 1000000). It must not
	// exceed what the brokers accept (message.max.bytes, 1048588 by default, or the topic's
	// max.message.bytes): a batch over it fails with MESSAGE_TOO_LARGE, which no retry passes.
	ProducerBatchMaxBytes int32 `yaml:"producer_batch_max_bytes"`
	// SessionTimeout is how long a consumer-group member may go without a heartbeat before the
	// group gives its partitions to the others (default 10s): how long a stream stalls after a
	// process dies without leaving. Heartbeats go every tenth of it, from their own goroutine, so a
	// long batch does not count. Brokers accept 6s to 5m by default.
	SessionTimeout time.Duration `yaml:"session_timeout"`
}

// GroupOpts returns the consumer-group options of the config, to add to ClientOpts.
func (c Config) GroupOpts() []kgo.Opt {
	st := c.SessionTimeout
	if st <= 0 {
		st = DefaultSessionTimeout
	}
	return []kgo.Opt{kgo.SessionTimeout(st), kgo.HeartbeatInterval(st / 10)}
}

// DefaultSessionTimeout is the default consumer-group session timeout. Kafka clients default to
// 45s, long for a stream: a process that is killed holds its partitions that long.
const DefaultSessionTimeout = 10 * time.Second

// DefaultProducerBatchMaxBytes is the default producer batch bound: below the 1048588 bytes a
// broker accepts by default, with room for the batch's overhead.
const DefaultProducerBatchMaxBytes = 1_000_000

// TLS configures encrypted connections to the brokers.
type TLS struct {
	Enabled            bool   `yaml:"enabled"`
	CAFile             string `yaml:"ca_file"`
	CertFile           string `yaml:"cert_file"`
	KeyFile            string `yaml:"key_file"`
	InsecureSkipVerify bool   `yaml:"insecure_skip_verify"`
}

// SASL configures authentication. The password comes from the config (use ${ENV}) or a file.
type SASL struct {
	Mechanism    string `yaml:"mechanism"` // "", PLAIN, SCRAM-SHA-256, SCRAM-SHA-512
	Username     string `yaml:"username"`
	Password     string `yaml:"password"`
	PasswordFile string `yaml:"password_file"`
}

// DefaultConfig returns the defaults: a broker on localhost:9092 and the contract's topics.
func DefaultConfig() Config {
	return Config{
		Brokers:           []string{"127.0.0.1:9092"},
		Partitions:        4,
		ReplicationFactor: -1,
		Group:             "streamlearn",
		Topics:            DefaultTopics(),

		ProducerBatchMaxBytes: DefaultProducerBatchMaxBytes,
		SessionTimeout:        DefaultSessionTimeout,
	}
}

// Validate checks the config; errors name the field.
func (c Config) Validate() error {
	var errs []error
	if c.Embedded == "" && len(c.Brokers) == 0 {
		errs = append(errs, errors.New("kafka.brokers: at least one broker, or kafka.embedded, is required"))
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("kafka.partitions: %d must be in 1..1024", c.Partitions))
	}
	if c.Group == "" {
		errs = append(errs, errors.New("kafka.group: must not be empty"))
	}
	if c.ProducerBatchMaxBytes < 1<<10 {
		errs = append(errs, fmt.Errorf("kafka.producer_batch_max_bytes: %d is below 1024", c.ProducerBatchMaxBytes))
	}
	if c.SessionTimeout < 6*time.Second || c.SessionTimeout > 5*time.Minute {
		errs = append(errs, fmt.Errorf("kafka.session_timeout: %s is outside the brokers' default 6s..5m", c.SessionTimeout))
	}
	seen := map[string]bool{}
	for _, t := range c.Topics.All() {
		if t == "" {
			errs = append(errs, errors.New("kafka.topics: every topic needs a name"))
		} else if seen[t] {
			errs = append(errs, fmt.Errorf("kafka.topics: %q is used twice", t))
		}
		seen[t] = true
	}
	switch strings.ToUpper(c.SASL.Mechanism) {
	case "", "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512":
	default:
		errs = append(errs, fmt.Errorf("kafka.sasl.mechanism: %q is not PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", c.SASL.Mechanism))
	}
	return errors.Join(errs...)
}

// SeedBrokers returns the addresses clients dial.
func (c Config) SeedBrokers() []string {
	if c.Embedded != "" {
		return []string{c.Embedded}
	}
	return c.Brokers
}

// ClientOpts returns the franz-go options that reach the configured cluster.
func (c Config) ClientOpts() ([]kgo.Opt, error) {
	opts := []kgo.Opt{kgo.SeedBrokers(c.SeedBrokers()...)}
	if c.TLS.Enabled {
		tc, err := c.TLS.config()
		if err != nil {
			return nil, fmt.Errorf("kafka tls: %w", err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	}
	if c.SASL.Mechanism != "" {
		pass := c.SASL.Password
		if c.SASL.PasswordFile != "" {
			p, err := secrets.ReadFile(c.SASL.PasswordFile)
			if err != nil {
				return nil, fmt.Errorf("kafka.sasl.password_file: %w", err)
			}
			pass = p
		}
		switch strings.ToUpper(c.SASL.Mechanism) {
		case "PLAIN":
			opts = append(opts, kgo.SASL(plain.Auth{User: c.SASL.Username, Pass: pass}.AsMechanism()))
		case "SCRAM-SHA-256":
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: pass}.AsSha256Mechanism()))
		case "SCRAM-SHA-512":
			opts = append(opts, kgo.SASL(scram.Auth{User: c.SASL.Username, Pass: pass}.AsSha512Mechanism()))
		}
	}
	return opts, nil
}

// ProducerOpts returns the options of the producer that every role shares (predictions, examples,
// dead letters, models, control), to add to ClientOpts. A zero ProducerBatchMaxBytes takes the default.
func (c Config) ProducerOpts() []kgo.Opt {
	batch := c.ProducerBatchMaxBytes
	if batch <= 0 {
		batch = DefaultProducerBatchMaxBytes
	}
	return []kgo.Opt{
		kgo.ProducerLinger(2 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(batch),
		kgo.MaxBufferedRecords(100000),
	}
}

func (t TLS) config() (*tls.Config, error) {
	return secrets.ClientTLS(secrets.TLSFiles{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, InsecureSkipVerify: t.InsecureSkipVerify})
}

// EnsureTopics creates the topics that do not exist yet.
func EnsureTopics(ctx context.Context, cl *kgo.Client, partitions int32, rf int16, topics ...string) error {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopics(ctx, partitions, rf, nil, topics...)
	if err != nil {
		return fmt.Errorf("create topics: %w", err)
	}
	for _, r := range resp.Sorted() {
		if r.Err != nil && !errors.Is(r.Err, kerr.TopicAlreadyExists) {
			return fmt.Errorf("create topic %s: %w", r.Topic, r.Err)
		}
	}
	return nil
}

// CheckTopics returns an error unless every topic exists.
func CheckTopics(ctx context.Context, cl *kgo.Client, topics ...string) error {
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	md, err := adm.Metadata(ctx, topics...)
	if err != nil {
		return fmt.Errorf("kafka metadata: %w", err)
	}
	for _, t := range topics {
		td, ok := md.Topics[t]
		if !ok || td.Err != nil {
			return fmt.Errorf("topic %s is missing", t)
		}
	}
	return nil
}
