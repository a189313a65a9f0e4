import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { k8s } from 'cdk8s-plus-34';
import { Construct } from 'constructs';
import { OfficialImages } from './images.ts';
import { SecretKeys } from './secrets.ts';
import { labelsOf, plainEnv, resources, secretEnv } from './constructs/pod.ts';

/** Where the functions find the database, whichever way it is deployed. */
export interface StoreEndpoints {
  /** Base URL supabase-js uses (`/rest/v1` under it reaches PostgREST). */
  readonly supabaseUrl: string;
  /** Host of the Postgres server (for DATABASE_URL), when it runs in the cluster. */
  readonly postgresHost?: string;
}

export interface SupabaseProps {
  readonly namespace: string;
  readonly storageClassName: string;
  /** Folder of the `*.sql` migrations (Supabase CLI layout), read at synth time. */
  readonly migrationsDir: string;
}

/** The role the image's own init scripts give the POSTGRES_PASSWORD; the migrations run as it. */
export const DB_ADMIN_USER = 'supabase_admin';
export const DB_PORT = 5432;
/** PostgREST's port, and the Supabase gateway's container port (nginx in front of it). */
export const POSTGREST_PORT = 3000;
export const GATEWAY_PORT = 8080;

/** The migration files, sorted by name (their version prefix), as ConfigMap data. */
export function readMigrations(dir: string): Record<string, string> {
  if (!existsSync(dir)) return {};
  const files = readdirSync(dir).filter((f) => f.endsWith('.sql')).sort();
  return Object.fromEntries(files.map((f) => [f, readFileSync(join(dir, f), 'utf8')]));
}

/** The advisory lock functions/lib/store/migrate.ts takes: the Job and a SQL store never migrate at once. */
const MIGRATION_LOCK_KEY = 7_306_930_001;

/**
 * Applies each migration once, in name order, each in its own transaction, recording it where the
 * project's own migrator does (`aiproc.schema_migrations`, functions/lib/store/migrate.ts), so the
 * Job and a function started with DATABASE_URL agree on what is applied. It first gives PostgREST's
 * login role (`authenticator`) its password.
 */
const MIGRATE_SCRIPT = `set -eu
until pg_isready -q; do echo "waiting for postgres at $PGHOST"; sleep 2; done
psql -v ON_ERROR_STOP=1 -v pgpass="$PGPASSWORD" <<'SQL'
ALTER ROLE authenticator WITH PASSWORD :'pgpass';
CREATE SCHEMA IF NOT EXISTS aiproc;
CREATE TABLE IF NOT EXISTS aiproc.schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
ALTER TABLE aiproc.schema_migrations ENABLE ROW LEVEL SECURITY;
SQL
for f in $(ls /migrations/*.sql 2>/dev/null | sort); do
  name=$(basename "$f")
  applied=$(psql -tA -v n="$name" <<'SQL'
SELECT count(*) FROM aiproc.schema_migrations WHERE name = :'n';
SQL
)
  if [ "$applied" = "1" ]; then echo "already applied: $name"; continue; fi
  echo "applying: $name"
  { echo "SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY});"; cat "$f"; echo; echo "INSERT INTO aiproc.schema_migrations (name) VALUES (:'n') ON CONFLICT DO NOTHING;"; } \\
    | psql -v ON_ERROR_STOP=1 --single-transaction -v n="$name"
done
psql -v ON_ERROR_STOP=1 -c "NOTIFY pgrst, 'reload schema'"
echo "migrations done"
`;

const GATEWAY_CONF = `server {
  listen ${GATEWAY_PORT};
  client_max_body_size 10m;
  location /rest/v1/ {
    proxy_pass http://postgrest:${POSTGREST_PORT}/;
    proxy_set_header Host $host;
    proxy_read_timeout 300s;
  }
  location = /healthz { return 200 "ok\\n"; }
}
`;

/**
 * Supabase in the cluster: Supabase's Postgres image as a StatefulSet on the expandable local
 * StorageClass, PostgREST, a gateway serving `/rest/v1` (what supabase-js calls), and a Job
 * applying `supabase/migrations/`.
 * @example new SupabaseStack(chart, 'supabase', { namespace: 'aiproc', storageClassName: 'aiproc-local', migrationsDir: 'supabase/migrations' })
 */
export class SupabaseStack extends Construct {
  readonly endpoints: StoreEndpoints;

  constructor(scope: Construct, id: string, props: SupabaseProps) {
    super(scope, id);
    const ns = props.namespace;
    const meta = (name: string, component = name) => ({ name, namespace: ns, labels: labelsOf(component) });
    const dbLabels = labelsOf('supabase-db');

    new k8s.KubeService(this, 'db-service', {
      metadata: meta('supabase-db'),
      spec: { clusterIp: 'None', selector: dbLabels, ports: [{ name: 'postgres', port: DB_PORT, targetPort: k8s.IntOrString.fromNumber(DB_PORT) }] },
    });
    new k8s.KubeStatefulSet(this, 'db', {
      metadata: meta('supabase-db'),
      spec: {
        serviceName: 'supabase-db',
        replicas: 1,
        selector: { matchLabels: dbLabels },
        template: {
          metadata: { labels: dbLabels },
          spec: {
            containers: [
              {
                name: 'postgres',
                image: OfficialImages.postgres,
                ports: [{ name: 'postgres', containerPort: DB_PORT }],
                env: [secretEnv(SecretKeys.postgresPassword), secretEnv(SecretKeys.jwtSecret), ...plainEnv({ PGDATA: '/var/lib/postgresql/data/pgdata', POSTGRES_DB: 'postgres' })],
                volumeMounts: [{ name: 'data', mountPath: '/var/lib/postgresql/data' }],
                readinessProbe: { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-U', 'postgres'] }, periodSeconds: 5, failureThreshold: 6 },
                livenessProbe: { exec: { command: ['pg_isready', '-h', '127.0.0.1', '-U', 'postgres'] }, periodSeconds: 20, failureThreshold: 6, initialDelaySeconds: 60 },
                resources: resources('250m', '512Mi', '2', '2Gi'),
              },
            ],
          },
        },
        volumeClaimTemplates: [
          {
            metadata: { name: 'data', labels: dbLabels },
            spec: {
              accessModes: ['ReadWriteOnce'],
              storageClassName: props.storageClassName,
              resources: { requests: { storage: k8s.Quantity.fromString('10Gi') } },
            },
          },
        ],
      },
    });

    const migrations = readMigrations(props.migrationsDir);
    // The Job's spec cannot change once created: a content hash in the name makes a changed set a new Job.
    const hash = createHash('sha256').update(JSON.stringify(migrations)).digest('hex').slice(0, 10);
    const cmName = `supabase-migrations-${hash}`;
    new k8s.KubeConfigMap(this, 'migrations', { metadata: meta(cmName, 'supabase-migrations'), data: migrations });
    new k8s.KubeJob(this, 'migrate', {
      metadata: meta(`supabase-migrate-${hash}`, 'supabase-migrate'),
      spec: {
        backoffLimit: 20,
        template: {
          metadata: { labels: labelsOf('supabase-migrate') },
          spec: {
            restartPolicy: 'OnFailure',
            containers: [
              {
                name: 'migrate',
                image: OfficialImages.postgres,
                command: ['/bin/sh', '-c', MIGRATE_SCRIPT],
                env: [
                  ...plainEnv({ PGHOST: 'supabase-db', PGPORT: String(DB_PORT), PGUSER: DB_ADMIN_USER, PGDATABASE: 'postgres' }),
                  secretEnv(SecretKeys.postgresPassword, 'PGPASSWORD'),
                ],
                volumeMounts: [{ name: 'migrations', mountPath: '/migrations', readOnly: true }],
                resources: resources('50m', '64Mi', '500m', '256Mi'),
              },
            ],
            volumes: [{ name: 'migrations', configMap: { name: cmName } }],
          },
        },
      },
    });

    const restLabels = labelsOf('postgrest');
    new k8s.KubeDeployment(this, 'postgrest', {
      metadata: meta('postgrest'),
      spec: {
        replicas: 1,
        selector: { matchLabels: restLabels },
        template: {
          metadata: { labels: restLabels },
          spec: {
            containers: [
              {
                name: 'postgrest',
                image: OfficialImages.postgrest,
                ports: [{ name: 'http', containerPort: POSTGREST_PORT }],
                env: [
                  secretEnv(SecretKeys.postgresPassword, 'PGRST_DB_PASSWORD'),
                  secretEnv(SecretKeys.jwtSecret, 'PGRST_JWT_SECRET'),
                  ...plainEnv({
                    // $(VAR) is expanded by Kubernetes from the env var above: no password in the manifest.
                    PGRST_DB_URI: `postgres://authenticator:$(PGRST_DB_PASSWORD)@supabase-db:${DB_PORT}/postgres`,
                    PGRST_DB_SCHEMAS: 'public,aiproc',
                    PGRST_DB_ANON_ROLE: 'anon',
                    PGRST_DB_USE_LEGACY_GUCS: 'false',
                    PGRST_ADMIN_SERVER_PORT: '3001',
                  }),
                ],
                readinessProbe: { httpGet: { path: '/ready', port: k8s.IntOrString.fromNumber(3001) }, periodSeconds: 5 },
                livenessProbe: { httpGet: { path: '/live', port: k8s.IntOrString.fromNumber(3001) }, periodSeconds: 20 },
                resources: resources('50m', '64Mi', '1', '256Mi'),
              },
            ],
          },
        },
      },
    });
    new k8s.KubeService(this, 'postgrest-service', {
      metadata: meta('postgrest'),
      spec: { selector: restLabels, ports: [{ name: 'http', port: POSTGREST_PORT, targetPort: k8s.IntOrString.fromNumber(POSTGREST_PORT) }] },
    });

    const gwLabels = labelsOf('supabase-gateway');
    new k8s.KubeConfigMap(this, 'gateway-conf', { metadata: meta('supabase-gateway'), data: { 'default.conf': GATEWAY_CONF } });
    new k8s.KubeDeployment(this, 'gateway', {
      metadata: meta('supabase-gateway'),
      spec: {
        replicas: 1,
        selector: { matchLabels: gwLabels },
        template: {
          metadata: { labels: gwLabels },
          spec: {
            containers: [
              {
                name: 'nginx',
                image: OfficialImages.gateway,
                ports: [{ name: 'http', containerPort: GATEWAY_PORT }],
                volumeMounts: [{ name: 'conf', mountPath: '/etc/nginx/conf.d/default.conf', subPath: 'default.conf', readOnly: true }],
                readinessProbe: { httpGet: { path: '/healthz', port: k8s.IntOrString.fromNumber(GATEWAY_PORT) }, periodSeconds: 5 },
                resources: resources('20m', '32Mi', '500m', '128Mi'),
              },
            ],
            volumes: [{ name: 'conf', configMap: { name: 'supabase-gateway' } }],
          },
        },
      },
    });
    new k8s.KubeService(this, 'gateway-service', {
      metadata: meta('supabase-gateway'),
      spec: { selector: gwLabels, ports: [{ name: 'http', port: 80, targetPort: k8s.IntOrString.fromNumber(GATEWAY_PORT) }] },
    });

    this.endpoints = { supabaseUrl: `http://supabase-gateway.${ns}.svc.cluster.local`, postgresHost: `supabase-db.${ns}.svc.cluster.local` };
  }
}
