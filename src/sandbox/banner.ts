import type { Config } from '../platform/config.ts';
import type { SandboxInfo } from './demo.ts';

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);

export function printBanner(o: { port: number; config: Config; sandbox?: SandboxInfo; embedded: boolean }) {
  const url = o.config.PUBLIC_URL || `http://localhost:${o.port}`;
  const lines = [
    '',
    `esoz-core is listening on ${url}`,
    LOOPBACK.has(o.config.HOST)
      ? `  bound to ${o.config.HOST}: this machine only (HOST=0.0.0.0 to accept other machines)`
      : `  bound to ${o.config.HOST}: reachable from other machines`,
    `  database: ${o.embedded ? (o.config.DATABASE_URL ? 'PGlite in memory' : `PGlite in ${o.config.DATA_DIR}`) : 'PostgreSQL'}`,
    `  API docs: ${url}/docs   (OpenAPI: ${url}/openapi.json)`,
  ];
  if (o.sandbox?.adminKey) {
    lines.push(`  admin key (x-admin-key): ${o.sandbox.adminKey}`, `  console: ${url}/console   (log in with the admin key)`);
  }
  const d = o.sandbox?.demo;
  if (d) {
    lines.push(
      `  demo client id: ${d.clientId}`,
      `  demo api-key:   ${d.secret}`,
      `  demo token:     ${d.token}   (all scopes)`,
      '',
      'Try:',
      `  curl -s ${url}/api/medication_requests/${d.ids.mrOtpId ?? '<id>'} -H 'Authorization: Bearer ${d.token}' -H 'api-key: ${d.secret}'`,
      `  curl -s -X PATCH ${url}/api/medication_requests/${d.ids.mrOtpId ?? '<id>'}/actions/resend -H 'Authorization: Bearer ${d.token}' -H 'api-key: ${d.secret}'`,
      '',
      'The README walk-through and the composition example (in another terminal):',
      `  export BASE_URL=${url} TOKEN=${d.token} API_KEY=${d.secret}${o.sandbox?.adminKey ? ` ADMIN_KEY=${o.sandbox.adminKey}` : ''}`,
      '  npm run example:composition',
      '  npx esoz --help   (the sandbox from the command line: reset, token, sign, sms --follow, …)',
    );
  }
  process.stdout.write(lines.join('\n') + '\n\n');
}
