import Shared
HeadTrainCommand.main()
