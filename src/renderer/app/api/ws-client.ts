/** The headless-mode transport: the contract over a WebSocket (the implementation is shared so it also runs under Node). */
export { WsContractClient, type WebSocketLike } from '../../../shared/ws-contract-client.js';
