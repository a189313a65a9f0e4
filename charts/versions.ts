/**
 * The versions of the people-facing apps that we deploy and that we test, in one place: the
 * charts' and docker-compose.yml's images are these (test/charts/versions.test.ts), and
 * `npm run test:n8n` / `npm run test:openwebui` install exactly these from npm and PyPI.
 */
export const AppVersions = {
  /** n8n on npm; image `n8nio/n8n:<version>`. */
  n8n: '2.41.1',
  /** open-webui on PyPI; image `ghcr.io/open-webui/open-webui:v<version>`. */
  openwebui: '0.12.4',
} as const;
