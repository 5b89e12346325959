package helm_test

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
	"helm.sh/helm/v4/pkg/action"
	"helm.sh/helm/v4/pkg/chart/common"
	"helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
)

const chartDir = "whistle"

// values reads a values file of this directory.
func values(t *testing.T, file string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	v, err := common.ReadValues(b)
	require.NoError(t, err)
	return v
}

// render renders the chart with vals as release "whistle" and returns the
// manifests by template file, each split into its documents.
func render(t *testing.T, vals map[string]any) (map[string][]map[string]any, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	require.NoError(t, err)
	rv, err := util.ToRenderValues(ch, vals, common.ReleaseOptions{Name: "whistle", Namespace: "district", Revision: 3, IsInstall: true}, common.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	out, err := engine.Render(ch, rv)
	if err != nil {
		return nil, err
	}
	docs := map[string][]map[string]any{}
	for name, text := range out {
		for _, part := range strings.Split(text, "\n---") {
			var d map[string]any
			require.NoError(t, yaml.Unmarshal([]byte(part), &d), "%s:\n%s", name, part)
			if d != nil {
				docs[name] = append(docs[name], d)
			}
		}
	}
	return docs, nil
}

// byKind indexes the rendered objects as "Kind/name".
func byKind(docs map[string][]map[string]any) map[string]map[string]any {
	out := map[string]map[string]any{}
	for _, ds := range docs {
		for _, d := range ds {
			md := d["metadata"].(map[string]any)
			out[d["kind"].(string)+"/"+md["name"].(string)] = d
		}
	}
	return out
}

// dig walks nested maps and lists ("spec.template.spec.containers.0.args";
// a dot inside a key is written \.).
func dig(t *testing.T, v any, path string) any {
	t.Helper()
	for _, k := range strings.Split(strings.ReplaceAll(path, `\.`, "\x00"), ".") {
		k = strings.ReplaceAll(k, "\x00", ".")
		switch x := v.(type) {
		case map[string]any:
			v = x[k]
		case []any:
			i, err := strconv.Atoi(k)
			require.NoError(t, err, path)
			require.Less(t, i, len(x), path)
			v = x[i]
		default:
			t.Fatalf("%s: %q is not under a map or list", path, k)
		}
	}
	return v
}

func env(t *testing.T, container any) map[string]any {
	out := map[string]any{}
	for _, e := range dig(t, container, "env").([]any) {
		m := e.(map[string]any)
		if v, ok := m["value"]; ok {
			out[m["name"].(string)] = v
		} else {
			out[m["name"].(string)] = m["valueFrom"]
		}
	}
	return out
}

// TestChartLints runs Helm's own lint on the chart with each values file:
// no errors, and no warning but the one for the official Temporal and NATS
// charts, which `helm dependency build` fetches and this test cannot.
func TestChartLints(t *testing.T) {
	for _, file := range []string{"values-district.yaml", "values-city.yaml"} {
		t.Run(file, func(t *testing.T) {
			lint := action.NewLint()
			lint.Namespace = "district"
			res := lint.Run([]string{chartDir}, values(t, file))
			require.Empty(t, res.Errors)
			require.Equal(t, 1, res.TotalChartsLinted)
			for _, m := range res.Messages {
				if m.Severity > 1 { // above info
					require.Contains(t, m.Err.Error(), "missing these dependencies", "%s", m)
				}
			}
		})
	}
}

// TestDistrictRenders: Temporal and NATS from their charts, two serves and
// two workers with readiness on /readyz, a disruption budget for each, the
// workers scaled on CPU, migrations as a hook Job.
func TestDistrictRenders(t *testing.T) {
	docs, err := render(t, values(t, "values-district.yaml"))
	require.NoError(t, err)
	objs := byKind(docs)

	serve := objs["Deployment/whistle-serve"]
	require.NotNil(t, serve, "rendered: %v", keys(objs))
	require.EqualValues(t, 2, dig(t, serve, "spec.replicas"))
	c := dig(t, serve, "spec.template.spec.containers.0")
	require.Equal(t, "/readyz", dig(t, c, "readinessProbe.httpGet.path"))
	e := env(t, c)
	require.Equal(t, "whistle-temporal-frontend:7233", e["TEMPORAL_ADDRESS"])
	require.Equal(t, "nats://whistle-nats:4222", e["NATS_URL"])
	require.Equal(t, "3", e["WHISTLE_STREAM_REPLICAS"])
	require.Equal(t, "whistle-db", dig(t, e["DATABASE_URL"], "secretKeyRef.name"))

	worker := objs["Deployment/whistle-worker"]
	require.NotNil(t, worker)
	require.Nil(t, dig(t, worker, "spec.replicas"), "the HPA sets the workers' replicas")
	wc := dig(t, worker, "spec.template.spec.containers.0")
	require.Equal(t, "/readyz", dig(t, wc, "readinessProbe.httpGet.path"))
	require.Equal(t, []any{"worker", "--health", "0.0.0.0:8081", "--workflow-cache", "5000"}, dig(t, wc, "args"))

	require.EqualValues(t, 1, dig(t, objs["PodDisruptionBudget/whistle-serve"], "spec.minAvailable"))
	require.EqualValues(t, 1, dig(t, objs["PodDisruptionBudget/whistle-worker"], "spec.minAvailable"))
	hpa := objs["HorizontalPodAutoscaler/whistle-worker"]
	require.EqualValues(t, 3, dig(t, hpa, "spec.maxReplicas"))
	require.Equal(t, "whistle-worker", dig(t, hpa, "spec.scaleTargetRef.name"))

	job := objs["Job/whistle-migrate-3"]
	require.NotNil(t, job)
	require.Equal(t, "post-install,pre-upgrade", dig(t, job, "metadata.annotations.helm\\.sh/hook"), "hook")
	require.Equal(t, []any{"migrate"}, dig(t, job, "spec.template.spec.initContainers.0.args"))
	require.Equal(t, "namespace", dig(t, job, "spec.template.spec.containers.0.args.0"))

	require.Nil(t, objs["Secret/whistle"], "the district's secrets exist beforehand")
}

// TestCityRenders: the city's own Temporal and NATS clusters by address,
// more of everything, no secret in the chart.
func TestCityRenders(t *testing.T) {
	docs, err := render(t, values(t, "values-city.yaml"))
	require.NoError(t, err)
	objs := byKind(docs)
	serve := objs["Deployment/whistle-serve"]
	require.EqualValues(t, 4, dig(t, serve, "spec.replicas"))
	e := env(t, dig(t, serve, "spec.template.spec.containers.0"))
	require.Equal(t, "temporal-frontend.temporal.svc:7233", e["TEMPORAL_ADDRESS"])
	require.Equal(t, "whistle-city", e["TEMPORAL_NAMESPACE"])
	require.Contains(t, e["NATS_URL"], "nats-2.nats.nats.svc:4222")
	require.EqualValues(t, 16, dig(t, objs["HorizontalPodAutoscaler/whistle-worker"], "spec.maxReplicas"))
	require.EqualValues(t, 2, dig(t, objs["PodDisruptionBudget/whistle-worker"], "spec.minAvailable"))
}

// Memory of a whistle worker measured on the local cluster
// (docs/operations.md, "Memory per open incident"): RSS with an empty cache,
// and RSS per workflow in the cache.
const (
	workerBaseMiB      = 150
	workerPerCachedKiB = 95
)

// TestWorkerCacheFitsItsLimit: for the chart's defaults and each values
// file, a worker whose workflow cache is full stays under its memory limit
// with a quarter to spare, by the measured figures; the SDK's default cache
// (10,000) is what an unset --workflow-cache means.
func TestWorkerCacheFitsItsLimit(t *testing.T) {
	for _, file := range []string{"", "values-district.yaml", "values-city.yaml"} {
		vals := map[string]any{"database": map[string]any{"url": "postgres://db/whistle"}, "jwt": map[string]any{"value": "s"}}
		if file != "" {
			vals = values(t, file)
		}
		docs, err := render(t, vals)
		require.NoError(t, err, file)
		c := dig(t, byKind(docs)["Deployment/whistle-worker"], "spec.template.spec.containers.0")
		cache := 10000
		args := dig(t, c, "args").([]any)
		for i, a := range args {
			if a == "--workflow-cache" {
				cache, err = strconv.Atoi(args[i+1].(string))
				require.NoError(t, err)
			}
		}
		limit := dig(t, c, "resources.limits.memory").(string)
		require.True(t, strings.HasSuffix(limit, "Gi") || strings.HasSuffix(limit, "Mi"), "%s: limit %s", file, limit)
		n, err := strconv.Atoi(limit[:len(limit)-2])
		require.NoError(t, err)
		limitMiB := n
		if strings.HasSuffix(limit, "Gi") {
			limitMiB = n * 1024
		}
		need := workerBaseMiB + cache*workerPerCachedKiB/1024
		require.LessOrEqual(t, need*4/3, limitMiB, "%s: a full cache of %d needs about %d MiB of a %s limit", file, cache, need, limit)
	}
}

// TestChartRefusesWhatIsMissing: without a database, a token secret or an
// engine's address the render stops and says which value to give.
func TestChartRefusesWhatIsMissing(t *testing.T) {
	_, err := render(t, map[string]any{"jwt": map[string]any{"value": "s"}})
	require.ErrorContains(t, err, "database.url or database.existingSecret is required")

	_, err = render(t, map[string]any{"database": map[string]any{"url": "postgres://db/whistle"}})
	require.ErrorContains(t, err, "jwt.value or jwt.existingSecret is required")

	_, err = render(t, map[string]any{
		"database": map[string]any{"url": "postgres://db/whistle"}, "jwt": map[string]any{"value": "s"},
		"temporal": map[string]any{"enabled": false},
	})
	require.ErrorContains(t, err, "temporal.address is required")

	// Given as values, the chart makes the Secret and the jurisdiction's ConfigMap.
	docs, err := render(t, map[string]any{
		"database": map[string]any{"url": "postgres://db/whistle"}, "jwt": map[string]any{"value": "s"},
		"jurisdiction": "district: {code: FH}\n",
	})
	require.NoError(t, err)
	objs := byKind(docs)
	require.Equal(t, "postgres://db/whistle", dig(t, objs["Secret/whistle"], "stringData.databaseURL"))
	require.Equal(t, "district: {code: FH}\n", dig(t, objs["ConfigMap/whistle"], "data.jurisdiction\\.yaml"))
}

func keys(m map[string]map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
