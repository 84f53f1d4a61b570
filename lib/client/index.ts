export * from './client'
export { SpdyAgent, type AgentOptions } from './agent'
