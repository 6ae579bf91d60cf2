import Shared
ExtractCommand.main()
