import NIOCore
import NIOPosix
import NIOWebSocket

/// Why a ``WebSocketClient`` or ``MessagesSourceClient`` operation failed (other than a JSON-RPC
/// error answer, which is a ``JSONRPCError``).
public struct ClientError: Error, Equatable, CustomStringConvertible {
    private enum Base: Equatable {
        case connectFailed(String, String)
        case handshakeFailed(Int)
        case httpStatus(Int, String)
        case connectionClosed(WebSocketErrorCode?, String)
        case timeout(String)
        case invalidResponse(String)
    }

    private var base: Base

    /// Could not open the TCP connection (refused, unreachable, DNS).
    public static func connectFailed(_ endpoint: String, reason: String) -> ClientError {
        ClientError(base: .connectFailed(endpoint, reason))
    }

    /// The server answered the WebSocket upgrade with this HTTP status instead of 101.
    public static func handshakeFailed(status: Int) -> ClientError { ClientError(base: .handshakeFailed(status)) }

    /// A MessagesSource answer with an unexpected HTTP status (401, 405, 413, …).
    public static func httpStatus(_ status: Int, body: String) -> ClientError {
        ClientError(base: .httpStatus(status, body))
    }

    /// The connection closed (with the WebSocket close code, if one was received).
    public static func connectionClosed(code: WebSocketErrorCode? = nil, reason: String = "") -> ClientError {
        ClientError(base: .connectionClosed(code, reason))
    }

    /// No answer within the deadline.
    public static func timeout(_ what: String) -> ClientError { ClientError(base: .timeout(what)) }

    /// The answer was not what the protocol allows (not JSON, wrong shape).
    public static func invalidResponse(_ detail: String) -> ClientError { ClientError(base: .invalidResponse(detail)) }

    /// The HTTP status for ``handshakeFailed(status:)`` and ``httpStatus(_:body:)``.
    public var status: Int? {
        switch self.base {
        case .handshakeFailed(let status), .httpStatus(let status, _): return status
        default: return nil
        }
    }

    /// The close code for ``connectionClosed(code:reason:)``.
    public var closeCode: WebSocketErrorCode? {
        if case .connectionClosed(let code, _) = self.base { return code }
        return nil
    }

    public var isTimeout: Bool {
        if case .timeout = self.base { return true }
        return false
    }

    public var isConnectFailure: Bool {
        if case .connectFailed = self.base { return true }
        return false
    }

    public var description: String {
        switch self.base {
        case .connectFailed(let endpoint, let reason): return "cannot connect to \(endpoint): \(reason)"
        case .handshakeFailed(let status): return "WebSocket handshake refused with HTTP \(status)"
        case .httpStatus(let status, let body):
            let detail = body.isEmpty ? "" : ": \(String(body.prefix(200)).replacingNewlines())"
            switch status {
            case 401: return "HTTP 401 Unauthorized (wrong or missing API key)\(detail)"
            default: return "HTTP \(status)\(detail)"
            }
        case .connectionClosed(let code, let reason):
            var text = "connection closed"
            if let code { text += " (code \(UInt16(webSocketErrorCode: code)))" }
            if !reason.isEmpty { text += ": \(reason)" }
            return text
        case .timeout(let what): return "timed out: \(what)"
        case .invalidResponse(let detail): return "invalid response: \(detail)"
        }
    }
}

extension ClientError {
    /// A short, one-line reason for a failed TCP connect ("Connection refused", "connect timeout").
    static func describeConnectError(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if error.connectionErrors.isEmpty, error.dnsAError != nil || error.dnsAAAAError != nil {
                return "cannot resolve host \(error.host)"
            }
            if let last = error.connectionErrors.last {
                return Self.describeConnectError(last.error)
            }
        }
        if let error = error as? IOError {
            switch error.errnoCode {
            case 111: return "connection refused"
            case 113: return "no route to host"
            case 101: return "network unreachable"
            case 110: return "connection timed out"
            default: return "\(error)".replacingNewlines()
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error {
            return "connect timeout"
        }
        return "\(error)".replacingNewlines()
    }
}

extension String {
    func replacingNewlines() -> String {
        String(self.map { $0.isNewline ? " " : $0 })
    }
}
