import t from 'tap'
import { name } from '../lib/index'
t.equal(name, 'fastify-spdy')
