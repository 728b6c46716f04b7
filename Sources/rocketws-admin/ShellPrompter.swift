import RocketWSClient

/// How the shell asks for what a command typed alone needs, as the original `manage.py shell` did: one
/// question, one line of answer, re-asked until it is valid.
struct ShellPrompter {
    /// Shows `prompt` and reads one line of answer (nil at the end of input).
    var ask: (_ prompt: String) -> String?
    /// Tells the user something between questions (an invalid answer).
    var say: (_ text: String) -> Void

    /// The original's questions and defaults.
    enum Question {
        static let channel = "Enter a channel, for example `chat`"
        static let emitData = "Enter json data"
        static let notifyData = "Enter json data, to notify all subscribers"
        static let subscribersChannel = "Enter a channel to get subscribers"
        static let defaultData = #"{"message": "test"}"#
        static let allChannels = "all"
    }

    /// Asks until the answer is not empty (or there is a default); nil at the end of input.
    func text(_ question: String, default fallback: String? = nil) -> String? {
        let prompt = fallback.map { "\(question) [default: \($0)]: " } ?? "\(question): "
        while true {
            guard let line = ask(prompt) else { return nil }
            let answer = line.trimmedForShell
            if !answer.isEmpty { return answer }
            if let fallback { return fallback }
        }
    }

    /// Asks until the answer is valid JSON (the original says "Invalid value: ..." and asks again).
    func json(_ question: String, default fallback: String) -> JSONValue? {
        while true {
            guard let answer = text(question, default: fallback) else { return nil }
            if let value = try? JSONValue(parsing: answer) { return value }
            say("Invalid value: \(answer)")
        }
    }
}
