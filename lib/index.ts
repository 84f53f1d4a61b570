export const name = 'fastify-spdy'
