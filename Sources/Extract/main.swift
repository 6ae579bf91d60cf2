import DinoSegCLI
import DinoSegKernels
BLASSetup.prepareProcess()  // before any BLAS call: loads the BLAS and corrects OpenBLAS's kernel core once
ExtractCommand.main()
