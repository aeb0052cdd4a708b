import ArgumentParser

/// `skyport`, the command-line tool for people working on Skyport.
@main
struct SkyportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "skyport", abstract: "Work with a local Skyport suite.",
        subcommands: [
            UpCommand.self, DownCommand.self, StatusCommand.self, CallCommand.self, HealthCommand.self,
            DevCACommand.self, DeveloperCommand.self, AppCommand.self, EntitlementCommand.self, SessionCommand.self,
            ConnectCommand.self, PackageCommand.self, DemoCommand.self, BenchSessionsCommand.self,
        ])
}
