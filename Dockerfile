# The ESS application image: gateway, workers and the schema job run from it (docker-compose.yml
# chooses the command). TypeScript runs through tsx, as in development.
FROM node:20-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# Dev dependencies are left out; tsx (a runtime dependency) runs the TypeScript sources.
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY queues ./queues
COPY sql ./sql
RUN mkdir -p /var/lib/ess/logs && chown -R node:node /var/lib/ess
USER node
EXPOSE 9999
CMD ["node", "--import", "tsx", "src/gateway.ts"]
