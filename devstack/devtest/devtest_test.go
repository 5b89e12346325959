package devtest

import (
	"context"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
)

func TestMain(m *testing.M) { Main(m) }

func TestPostgresGivesFreshDatabaseDroppedAtCleanup(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	var inner string
	t.Run("inner", func(t *testing.T) {
		inner = Postgres(t)
		conn, err := pgx.Connect(ctx, inner)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(ctx)
		var tables int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
			t.Fatal(err)
		}
		if tables != 0 {
			t.Fatalf("fresh database has %d tables", tables)
		}
		if _, err := conn.Exec(ctx, `CREATE TABLE x (id int)`); err != nil {
			t.Fatal(err)
		}
		// The connection stays open: cleanup must drop the database anyway.
	})
	name := dbName(t, inner)
	if !strings.HasPrefix(name, "t_testpostgresgivesfreshdatabasedroppeda") {
		t.Fatalf("database name %q does not come from the test name", name)
	}

	other := Postgres(t)
	if dbName(t, other) == name {
		t.Fatal("two calls gave the same database")
	}
	conn, err := pgx.Connect(ctx, other)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		t.Fatal(err)
	}
	if exists {
		t.Fatalf("database %s still exists after its test's cleanup", name)
	}
	if os.Getenv("DATABASE_URL") == "" && shared.pg == nil {
		t.Fatal("no private server started without DATABASE_URL")
	}
}

func TestNATS(t *testing.T) {
	nc, err := nats.Connect(NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AddStream(&nats.StreamConfig{Name: "S", Subjects: []string{"s"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.Publish("s", []byte("x")); err != nil {
		t.Fatal(err)
	}
	info, err := js.StreamInfo("S")
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 1 {
		t.Fatalf("stream has %d messages, want 1", info.State.Msgs)
	}
}

func TestWithDatabase(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:p@h:5432/old?sslmode=disable": "postgres://u:p@h:5432/new?sslmode=disable",
		"postgresql://h/":          "postgresql://h/new",
		"host=h user=u dbname=old": "host=h user=u dbname=old dbname=new",
	} {
		got, err := withDatabase(in, "new")
		if err != nil || got != want {
			t.Errorf("withDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	// The key=value form really ends up on the new database.
	cfg, err := pgx.ParseConfig("host=h user=u dbname=old dbname=new")
	if err != nil || cfg.Database != "new" {
		t.Fatalf("pgx reads database %q (%v), want new", cfg.Database, err)
	}
}

func dbName(t *testing.T, dsn string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimPrefix(u.Path, "/")
}
