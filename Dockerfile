# The ebb worker image: `docker compose up` runs it against a Temporal cluster and a Postgres
# state store (see docker-compose.yml). Any other command works too: `docker run <image> validate`.
FROM node:20-bookworm-slim

ENV NODE_ENV=production
WORKDIR /app

COPY package.json package-lock.json ./
# The postinstall script provisions a Temporal dev server for tests, which an image that talks to a
# real cluster does not need; better-sqlite3 still needs its native build step, so run just that one.
RUN npm ci --omit=dev --ignore-scripts \
  && npm rebuild better-sqlite3 \
  && npm cache clean --force

COPY . .

USER node
ENTRYPOINT ["node", "bin/ebb.js"]
CMD ["worker"]
