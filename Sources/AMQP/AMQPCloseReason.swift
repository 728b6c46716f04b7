/// Why a connection or channel is closed (connection.close / channel.close): a reply code of section 1.2 of
/// the AMQP 0-9-1 XML (200 reply-success, 320 connection-forced, 403 access-refused, 404 not-found,
/// 406 precondition-failed, 501-541 connection errors) and the method that caused it, if any.
public struct AMQPCloseReason: Equatable, Sendable, CustomStringConvertible {
    public var replyCode: UInt16
    public var replyText: String
    public var classID: UInt16
    public var methodID: UInt16

    public init(replyCode: UInt16, replyText: String, classID: UInt16 = 0, methodID: UInt16 = 0) {
        self.replyCode = replyCode
        self.replyText = replyText
        self.classID = classID
        self.methodID = methodID
    }

    /// A normal close.
    public static func success(_ text: String) -> Self { Self(replyCode: 200, replyText: text) }

    public var description: String {
        classID == 0 ? "\(replyCode) \(replyText)" : "\(replyCode) \(replyText) (method \(classID).\(methodID))"
    }
}
