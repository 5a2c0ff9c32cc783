# syntax=docker/dockerfile:1
# The policy-sync image: the worker by default (`docker compose up`), any CLI command as arguments.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY scripts ./scripts
# tsc, then dist/workflow-bundle.js: workers start without bundling workflows at start-up.
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/src ./src
COPY bin ./bin
USER node
EXPOSE 9464
ENTRYPOINT ["node", "bin/policy-sync.js"]
CMD ["worker"]
