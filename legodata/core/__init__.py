"""The bottom layer: conventions, units, meshes, rotations, the record schema, the scene spec and the render
worker protocol. Modules here import nothing else of ``legodata`` (a test walks the imports), so every other
package can build on them without cycles.
"""
